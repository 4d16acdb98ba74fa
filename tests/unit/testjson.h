/* testjson.h - JSON fixtures for the unit tests (include after cmocka.h). */
#ifndef MK_TESTJSON_H
#define MK_TESTJSON_H

#include <jansson.h>

/* Parse a fixture; a broken one fails the test that uses it. */
static inline json_t *test_json(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        fail_msg("bad test JSON: %s", je.text);
    return j;
}

#endif
