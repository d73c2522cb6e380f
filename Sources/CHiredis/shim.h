// CHiredis: the only door from Swift to hiredis (0.14) and its libuv adapter.
#ifndef ALERTMESH_CHIREDIS_SHIM_H
#define ALERTMESH_CHIREDIS_SHIM_H

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

/* hiredis 0.14's variadic redisAsyncCommand cannot be called from Swift; every command goes
 * through redisAsyncCommandArgv. hiredis's own libuv adapter (adapters/libuv.h) is not used: it
 * ignores poll errors, so a refused connect hangs (see MeshRedis.HiredisLoopAdapter, which drives
 * the context from MeshLoop instead). */

#endif
