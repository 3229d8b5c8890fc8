/* 64-bit gateway EUIs ("MACs"): strict parsing and canonical formatting. */
#ifndef LF_EUI_H
#define LF_EUI_H

#include <stdint.h>

/* 16 lowercase hex digits and a NUL. */
#define LF_EUI_STRLEN 17

/*
 * Accepts 16 hex digits in any case, either bare or with one separator
 * (':' or '-') used consistently between every pair of digits
 * ("AA:55:5A:00:00:00:01:01"). Anything else, including leading or
 * trailing text, is rejected. Returns 0 or -1.
 */
int lf_eui_parse(const char *text, uint64_t *eui);

/* Writes the canonical form: 16 lowercase hex digits. */
void lf_eui_format(uint64_t eui, char out[LF_EUI_STRLEN]);

/* GWMP carries the EUI big-endian in 8 bytes. */
uint64_t lf_eui_from_bytes(const uint8_t bytes[8]);
void lf_eui_to_bytes(uint64_t eui, uint8_t bytes[8]);

#endif
