#!/usr/bin/env python3
"""The Python design's log path, as a baseline: one HTTP POST /write to InfluxDB per log record,
made from the caller's thread (what influxdb-python's write_points does per call), on a kept-alive
connection. Prints one JSON object: records, seconds, records/s, µs per record (median, p99).

usage: old_log.py HOST HTTP_PORT RECORDS
"""
import http.client, json, statistics, sys, time

host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
conn = http.client.HTTPConnection(host, port)
lat = []
start = time.perf_counter()
for i in range(n):
    line = 'log_event,host=bench,level=info,service=python message="task succeeded",task_id="t-%d",attempt=1,duration_ms=2.5 %d\n' % (
        i, time.time_ns())
    t0 = time.perf_counter()
    conn.request("POST", "/write?db=logs_python&precision=ns", body=line.encode())
    r = conn.getresponse()
    r.read()
    if r.status not in (204, 404):
        raise SystemExit("write failed: %d" % r.status)
    lat.append(time.perf_counter() - t0)
elapsed = time.perf_counter() - start
lat.sort()
print(json.dumps({"mode": "python-http", "events": n, "seconds": elapsed, "events_per_s": n / elapsed,
                  "us_per_record": statistics.median(lat) * 1e6, "us_p99": lat[int(len(lat) * 0.99)] * 1e6}))
