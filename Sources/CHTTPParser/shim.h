// CHTTPParser: the only door from Swift to Node's http-parser 2.9 (Debian libhttp-parser-dev).
#ifndef ALERTMESH_CHTTPPARSER_SHIM_H
#define ALERTMESH_CHTTPPARSER_SHIM_H

#include <http_parser.h>

/* HTTP_PARSER_ERRNO is a macro over a bitfield; Swift cannot call macros with arguments. */
static inline enum http_errno CHTTPParser_errno(const http_parser *p) {
    return HTTP_PARSER_ERRNO(p);
}

/* Whether the request said Transfer-Encoding: chunked (F_CHUNKED lives in a semi-public bitfield). */
static inline int CHTTPParser_isChunked(const http_parser *p) {
    return (p->flags & F_CHUNKED) != 0;
}

#endif
