/* Writing JSON strings that stay valid UTF-8 and valid JSON whatever bytes they are given: a
 * class name is a folder name, and a folder name on Linux is any bytes but '/' and NUL. */
#ifndef EOS_JSON_WRITE_H
#define EOS_JSON_WRITE_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Usage:
 *     fprintf(f, "{\"name\": ");  eos_json_write_string(f, name);  fprintf(f, "}\n");
 *     char buf[256];  if (eos_json_format_string(buf, sizeof buf, name) >= sizeof buf) ...  // too long
 *
 * The literal, quotes included: '"' and '\' escaped, control characters as \n, \t, ... or
 * \u00XX, and every byte that does not begin a valid UTF-8 character (a stray continuation
 * byte, a cut sequence, an overlong form, a surrogate, a code point above U+10FFFF) replaced by
 * U+FFFD, one per byte. Valid UTF-8 comes out unchanged. s NULL writes null. */
void eos_json_write_string(FILE *f, const char *s);
/* The same into buf (cap bytes; NUL-terminated when cap > 0, cut short when it does not fit).
 * Returns the length of the whole literal, like snprintf: the literal fits when it is < cap. */
size_t eos_json_format_string(char *buf, size_t cap, const char *s);

#ifdef __cplusplus
}
#endif
#endif /* EOS_JSON_WRITE_H */
