/* A small JSON reader for the files EOS-CL itself writes (summary.json, metrics.json,
 * embed_metrics.json), used by the run report. Private to the library: not a general JSON
 * library, but strict and bounded, so a damaged file is an error naming the file and line. */
#ifndef EOS_JSON_H
#define EOS_JSON_H

#include "eos/status.h"

#include <stddef.h>

typedef enum { EOS__JSON_NULL, EOS__JSON_BOOL, EOS__JSON_NUMBER, EOS__JSON_STRING, EOS__JSON_ARRAY, EOS__JSON_OBJECT } eos__json_kind;

typedef struct eos__json {
    eos__json_kind kind;
    double num;                /* NUMBER, and BOOL as 0/1 */
    char *str;                 /* STRING (NUL-terminated, UTF-8) */
    size_t n;                  /* ARRAY and OBJECT: number of items */
    struct eos__json *items;   /* (n) */
    char **keys;               /* OBJECT: (n) */
} eos__json;

/* Parse text (len bytes, not necessarily NUL-terminated); name is used in messages.
 * *out is malloc'd; free it with eos__json_free. */
eos_status eos__json_parse(const char *text, size_t len, const char *name, eos__json **out);
/* Read and parse a whole file (at most 64 MiB). */
eos_status eos__json_read(const char *path, eos__json **out);
void eos__json_free(eos__json *j);

/* The member named key of an object, or NULL (also when j is not an object). */
const eos__json *eos__json_get(const eos__json *j, const char *key);
/* A number member, or fallback when absent or not a number (null counts as absent). */
double eos__json_num(const eos__json *j, const char *key, double fallback);
/* A string member, or fallback. */
const char *eos__json_str(const eos__json *j, const char *key, const char *fallback);

/* The length (1 to 4) of the valid UTF-8 character at s, or 0 when s does not begin one (or is
 * at its terminating NUL). Shared by the JSON writer and the report's HTML escaper. */
size_t eos__utf8_char(const char *s);

#endif
