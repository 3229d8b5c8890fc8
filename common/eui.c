#include "lf/eui.h"

#include <stddef.h>

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

int
lf_eui_parse(const char *text, uint64_t *eui)
{
	if (text == NULL) {
		return -1;
	}
	/* The separator, if any, is whatever follows the first pair, and then
	 * must stand between every pair. */
	char sep = '\0';
	if (text[0] != '\0' && text[1] != '\0' && (text[2] == ':' || text[2] == '-')) {
		sep = text[2];
	}
	uint64_t value = 0;
	const char *p = text;
	for (int pair = 0; pair < 8; pair++) {
		if (pair > 0 && sep != '\0') {
			if (*p != sep) {
				return -1;
			}
			p++;
		}
		int hi = hex_value(p[0]);
		int lo = hi < 0 ? -1 : hex_value(p[1]);
		if (hi < 0 || lo < 0) {
			return -1;
		}
		value = (value << 8) | (uint64_t)(hi << 4 | lo);
		p += 2;
	}
	if (*p != '\0') {
		return -1;
	}
	*eui = value;
	return 0;
}

void
lf_eui_format(uint64_t eui, char out[LF_EUI_STRLEN])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 15; i >= 0; i--) {
		out[i] = digits[eui & 0xf];
		eui >>= 4;
	}
	out[16] = '\0';
}

uint64_t
lf_eui_from_bytes(const uint8_t bytes[8])
{
	uint64_t eui = 0;
	for (int i = 0; i < 8; i++) {
		eui = (eui << 8) | bytes[i];
	}
	return eui;
}

void
lf_eui_to_bytes(uint64_t eui, uint8_t bytes[8])
{
	for (int i = 7; i >= 0; i--) {
		bytes[i] = (uint8_t)(eui & 0xff);
		eui >>= 8;
	}
}
