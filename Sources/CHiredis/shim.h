// CHiredis: the only door from Swift to hiredis (0.14) and its libuv adapter.
#ifndef ALERTMESH_CHIREDIS_SHIM_H
#define ALERTMESH_CHIREDIS_SHIM_H

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libuv.h>

/// hiredis 0.14's variadic redisAsyncCommand cannot be called from Swift; every command goes
/// through redisAsyncCommandArgv. The adapter's redisLibuvAttach is a static function in the
/// header, so this wrapper gives Swift one stable symbol to call.
static inline int CHiredis_attach(redisAsyncContext *ac, uv_loop_t *loop) {
    return redisLibuvAttach(ac, loop);
}

#endif
