// OpenAPIDocument: the public HTTP API as OpenAPI 3.1, served at GET /openapi.json.
// APIServiceTests/OpenAPITests checks every route, status and schema here against the server.

enum OpenAPIDocument {
    static let json = #"""
        {
          "openapi": "3.1.0",
          "info": {
            "title": "alertmesh",
            "version": "1.0.0",
            "description": "Submit a message; it is analysed asynchronously for leaked personal data (passwords, secrets, credentials, e-mail addresses, card-like numbers, IBANs, international phone numbers, API keys, private keys, JSON Web Tokens) and fraud wording. Poll its status for the alerts. Finished tasks stay readable for 24 hours."
          },
          "paths": {
            "/submit": {
              "post": {
                "summary": "Queue a message for analysis",
                "description": "Answers 202 only after Redis has stored the task. With an Idempotency-Key, the same key and message within 24 h return the same task.",
                "parameters": [
                  {"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "minLength": 1, "maxLength": 255}}
                ],
                "requestBody": {
                  "required": true,
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SubmitRequest"}}}
                },
                "responses": {
                  "202": {
                    "description": "Stored; poll the Location.",
                    "headers": {"Location": {"schema": {"type": "string"}}},
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SubmitResponse"}}}
                  },
                  "400": {"$ref": "#/components/responses/Error"},
                  "413": {"$ref": "#/components/responses/Error"},
                  "415": {"$ref": "#/components/responses/Error"},
                  "422": {"$ref": "#/components/responses/Error"},
                  "429": {"$ref": "#/components/responses/Shed"},
                  "503": {"$ref": "#/components/responses/Unavailable"}
                }
              }
            },
            "/status/{task_id}": {
              "get": {
                "summary": "A task's state and, when done, its result",
                "parameters": [
                  {"name": "task_id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,128}$"}}
                ],
                "responses": {
                  "200": {
                    "description": "The task.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TaskStatus"}}}
                  },
                  "400": {"$ref": "#/components/responses/Error"},
                  "404": {"$ref": "#/components/responses/Error"},
                  "503": {"$ref": "#/components/responses/Unavailable"}
                }
              }
            },
            "/healthz": {
              "get": {
                "summary": "The process serves",
                "responses": {
                  "200": {"description": "Alive.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}
                }
              }
            },
            "/readyz": {
              "get": {
                "summary": "Redis answers and the consumer group exists",
                "responses": {
                  "200": {"description": "Ready.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ready"}}}},
                  "503": {"$ref": "#/components/responses/Unavailable"}
                }
              }
            },
            "/metrics": {
              "get": {
                "summary": "Prometheus text exposition of the whole mesh",
                "responses": {"200": {"description": "Metrics.", "content": {"text/plain": {"schema": {"type": "string"}}}}}
              }
            },
            "/openapi.json": {
              "get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1.", "content": {"application/json": {"schema": {"type": "object"}}}}}
              }
            },
            "/docs": {
              "get": {
                "summary": "A page to read this API and try it",
                "responses": {"200": {"description": "HTML.", "content": {"text/html": {"schema": {"type": "string"}}}}}
              }
            },
            "/monitor": {
              "get": {
                "summary": "The mesh at a glance: throughput, queue, latency, workers, alert-services",
                "description": "A live page (its script and style at /monitor/monitor.js and /monitor/monitor.css) refreshed every 1.5 s from /monitor/api/overview. No message text anywhere.",
                "responses": {"200": {"description": "HTML.", "content": {"text/html": {"schema": {"type": "string"}}}}}
              }
            },
            "/monitor/api/overview": {
              "get": {
                "summary": "What /monitor shows, as JSON",
                "description": "Sampled by api-service once a second: throughput for the last 15 minutes, the queue, submit-to-done latency over the last minute (from the workers' histograms), and each scraped worker and alert-service. Reading it costs Redis and the mesh nothing beyond the sampling.",
                "responses": {"200": {"description": "The overview.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/MonitorOverview"}}}}}
              }
            },
            "/monitor/api/recent-alerts": {
              "get": {
                "summary": "The last 50 tasks with alerts, across every alert-service",
                "description": "Time, task id, codes and masked excerpts ([code, masked] pairs, at most 10 a task); never message text. Kept in each alert-service's memory (alertmesh.v1.AlertService/Recent), merged newest first; an alert-service that does not answer is left out.",
                "responses": {"200": {"description": "The recent alerts.", "content": {"application/json": {"schema": {
                  "type": "object", "required": ["alerts"],
                  "properties": {"alerts": {"type": "array", "items": {"type": "object", "required": ["task_id", "at_ms", "alerts", "findings"],
                    "properties": {"task_id": {"type": "string"}, "at_ms": {"type": "integer"}, "alerts": {"type": "array", "items": {"type": "string"}},
                      "findings": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}}}}}}
                }}}}}
              }
            },
            "/monitor/api/dead-letters": {
              "get": {
                "summary": "The newest 50 dead letters, read through a worker",
                "description": "Task id, attempts, last error and when; never the message. Relayed to a scraped worker's alertmesh.v1.DeadLetters/List.",
                "responses": {
                  "200": {"description": "The dead letters.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/MonitorDeadLetters"}}}},
                  "503": {"description": "No scraped worker answered.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            },
            "/monitor/api/dead-letters/redrive": {
              "post": {
                "summary": "Re-drive dead letters (only with --monitor-admin)",
                "description": "Body {\"task_ids\": [...]} or {\"all\": true}, as application/json. Relayed to a worker's alertmesh.v1.DeadLetters/Redrive; each task goes back to PENDING with its attempts reset.",
                "responses": {
                  "200": {"description": "What was re-driven, and what was refused with why.", "content": {"application/json": {"schema": {"type": "object", "required": ["redriven", "refused"], "properties": {"redriven": {"type": "array", "items": {"type": "string"}}, "refused": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}}}}}}},
                  "403": {"description": "api-service runs without --monitor-admin.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "415": {"description": "Not application/json.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "422": {"description": "Neither task_ids nor all.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "503": {"description": "No scraped worker answered.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            }
          },
          "components": {
            "schemas": {
              "MonitorDeadLetters": {
                "type": "object",
                "required": ["total", "dead_letters", "redrive_enabled"],
                "properties": {
                  "total": {"type": "integer"}, "redrive_enabled": {"type": "boolean"},
                  "dead_letters": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "required": ["task_id", "attempts", "last_error", "failed_at"],
                      "properties": {"task_id": {"type": "string"}, "attempts": {"type": "integer"}, "last_error": {"type": "string"}, "failed_at": {"type": "string"}}
                    }
                  }
                }
              },
              "MonitorOverview": {
                "type": "object",
                "required": ["now_ms", "throughput", "queue", "e2e", "workers", "alert_services"],
                "properties": {
                  "now_ms": {"type": "integer", "description": "Unix ms of this answer."},
                  "throughput": {
                    "type": "object",
                    "description": "One point a second, oldest first, at most 900: [at_ms, submitted/s, completed/s, failed/s].",
                    "properties": {
                      "interval_ms": {"type": "integer"}, "columns": {"type": "array", "items": {"type": "string"}},
                      "points": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}
                    }
                  },
                  "queue": {
                    "type": "object",
                    "properties": {
                      "redis_up": {"type": "boolean"}, "backlog": {"type": "integer", "description": "lag + pending + delayed"},
                      "lag": {"type": "integer"}, "pending": {"type": "integer"}, "delayed": {"type": "integer"},
                      "dead_letters": {"type": "integer"}, "consumers": {"type": "integer"},
                      "oldest_pending_age_s": {"type": "number"}
                    }
                  },
                  "e2e": {
                    "type": "object",
                    "description": "Submit to SUCCESS over the last minute; p50_s and p99_s absent without tasks.",
                    "properties": {"window_s": {"type": "integer"}, "tasks": {"type": "number"}, "p50_s": {"type": "number"}, "p99_s": {"type": "number"}}
                  },
                  "workers": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "properties": {
                        "instance": {"type": "string"}, "state": {"type": "string", "enum": ["serving", "paused", "not serving", "down"]},
                        "reason": {"type": "string"}, "last_seen_ms": {"type": "integer"}, "in_flight": {"type": "integer"},
                        "concurrency": {"type": "integer"}, "succeeded": {"type": "integer"}
                      }
                    }
                  },
                  "alert_services": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "properties": {
                        "instance": {"type": "string"}, "state": {"type": "string", "enum": ["serving", "not serving", "down"]},
                        "reason": {"type": "string"}, "last_seen_ms": {"type": "integer"}, "calls_per_s": {"type": "number"},
                        "p99_ms": {"type": "number"}
                      }
                    }
                  }
                }
              },
              "SubmitRequest": {
                "type": "object",
                "required": ["message"],
                "properties": {"message": {"type": "string", "description": "The text to analyse (at most 1 MiB of JSON)."}}
              },
              "SubmitResponse": {
                "type": "object",
                "required": ["task_id", "status", "status_url"],
                "properties": {
                  "task_id": {"type": "string"},
                  "status": {"type": "string", "enum": ["submitted"]},
                  "status_url": {"type": "string"}
                }
              },
              "TaskStatus": {
                "type": "object",
                "required": ["task_id", "state", "attempts", "created_at", "updated_at"],
                "properties": {
                  "task_id": {"type": "string"},
                  "state": {"type": "string", "enum": ["PENDING", "STARTED", "RETRY", "SUCCESS", "FAILURE"]},
                  "result": {"$ref": "#/components/schemas/Result"},
                  "error": {"type": "string", "description": "Why it failed (FAILURE)."},
                  "last_error": {"type": "string", "description": "While it waits (PENDING, STARTED, RETRY): why its last attempt did not succeed."},
                  "attempts": {"type": "integer", "description": "Attempts counted; one no alert-service took is not."},
                  "retry_at": {"type": "string", "format": "date-time", "description": "While it waits: when it runs again."},
                  "history": {
                    "type": "array",
                    "description": "Every transition, oldest first: submitted, each attempt's start, retries with their errors, postponements, failure, re-drive, success (the newest 4 KiB of recorded transitions).",
                    "items": {
                      "type": "object", "required": ["at", "state"],
                      "properties": {"at": {"type": "string", "format": "date-time"}, "state": {"type": "string"}, "detail": {"type": "string"}}
                    }
                  },
                  "created_at": {"type": "string", "format": "date-time"},
                  "updated_at": {"type": "string", "format": "date-time"}
                }
              },
              "Result": {
                "type": "object",
                "required": ["status", "alerts", "findings", "findings_truncated"],
                "properties": {
                  "status": {"type": "string", "enum": ["processed"]},
                  "alerts": {
                    "type": "array",
                    "description": "The codes that fired, sorted, each once. One example message each: api_key_detected `token ghp_1a2b3c4d5e6f7g8h9i0jKLMNOPQRSTUVWXYZ`; card_number_detected `card 4111 1111 1111 1111`; email_detected `mail john.doe@example.com`; fraud_attempt `this is a scam`; iban_detected `IBAN: DE89 3704 0044 0532 0130 00`; jwt_detected `Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLWJ5dGVz`; personal_data `my Password: x`; phone_detected `call +44 20 7946 0958`; private_key_detected `-----BEGIN RSA PRIVATE KEY-----`.",
                    "items": {"type": "string", "enum": ["api_key_detected", "card_number_detected", "email_detected", "fraud_attempt", "iban_detected", "jwt_detected", "personal_data", "phone_detected", "private_key_detected"]}
                  },
                  "findings": {"type": "array", "items": {"$ref": "#/components/schemas/Finding"}},
                  "findings_truncated": {"type": "boolean"}
                }
              },
              "Finding": {
                "type": "object",
                "required": ["code", "masked", "offset", "length"],
                "properties": {
                  "code": {"type": "string"},
                  "masked": {"type": "string", "description": "The match with its secret part masked: p*******, j***@example.com, **** **** **** 1111, DE89 **** **** **** **** 00, +44 ********58, ghp_…WXYZ, the private-key header line, alg=HS256 typ=JWT."},
                  "offset": {"type": "integer", "description": "In Unicode scalars."},
                  "length": {"type": "integer"},
                  "luhn_valid": {"type": "boolean"}
                }
              },
              "Health": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string", "enum": ["ok"]}}},
              "Ready": {
                "type": "object",
                "required": ["status", "redis", "stream_length", "pending", "lag", "delayed", "dead_letter", "consumers"],
                "properties": {
                  "status": {"type": "string", "enum": ["ready"]},
                  "redis": {"type": "string"},
                  "stream_length": {"type": "integer"},
                  "pending": {"type": "integer"},
                  "lag": {"type": "integer"},
                  "delayed": {"type": "integer"},
                  "dead_letter": {"type": "integer"},
                  "consumers": {"type": "integer"},
                  "accepting": {"type": "boolean", "description": "false while submits are shed (429)."},
                  "backlog": {"type": "integer", "description": "Tasks waiting or in work: stream entries + delayed retries."},
                  "backlog_limit": {"type": "integer", "description": "The backlog past which submits are shed."},
                  "shed_reason": {"type": "string", "description": "Why submits are shed, while they are."}
                }
              },
              "Error": {
                "type": "object",
                "required": ["error", "detail"],
                "properties": {
                  "error": {"type": "string"}, "detail": {"type": "string"},
                  "task_id": {"type": "string", "description": "Only with error \"outcome unknown\": the task that may be stored."},
                  "status_url": {"type": "string"}
                }
              }
            },
            "responses": {
              "Error": {
                "description": "The request cannot be served as sent.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
              },
              "Shed": {
                "description": "Too many tasks wait already (the backlog limit), or Redis is near its maxmemory: nothing was stored; try again after Retry-After seconds.",
                "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
              },
              "Unavailable": {
                "description": "Redis is unavailable, or out of memory: nothing was stored; try again after Retry-After seconds. Except with error \"outcome unknown\" (a submit Redis took but did not confirm in time): the task may be stored; its status_url says (404: it was not), and a retry with the same Idempotency-Key is safe.",
                "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
              }
            }
          }
        }
        """#
}
