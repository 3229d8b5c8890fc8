/* Helium regions: names, and the default downlink power per region. */
#include <stddef.h>
#include <strings.h>

#include "lf/util.h"

#include "region.h"

struct region_info {
	Helium__Region region;
	const char *name;
	/* Helium's historical chain max_eirp (deci-dBm) / 10, truncated as
	 * gateway-rs does; variants inherit their base plan's limit. */
	int eirp_dbm;
};

/* CN779 is deprecated and had no chain value; 12 dBm is the LoRaWAN
 * regional-parameters EIRP limit (12.15 dBm) truncated. */
static const struct region_info regions[] = {
        {HELIUM__REGION__US915, "US915", 36},         {HELIUM__REGION__EU868, "EU868", 16},
        {HELIUM__REGION__EU433, "EU433", 12},         {HELIUM__REGION__CN470, "CN470", 19},
        {HELIUM__REGION__CN779, "CN779", 12},         {HELIUM__REGION__AU915, "AU915", 30},
        {HELIUM__REGION__AS923_1, "AS923_1", 16},     {HELIUM__REGION__KR920, "KR920", 14},
        {HELIUM__REGION__IN865, "IN865", 30},         {HELIUM__REGION__AS923_2, "AS923_2", 16},
        {HELIUM__REGION__AS923_3, "AS923_3", 16},     {HELIUM__REGION__AS923_4, "AS923_4", 16},
        {HELIUM__REGION__AS923_1B, "AS923_1B", 16},   {HELIUM__REGION__CD900_1A, "CD900_1A", 16},
        {HELIUM__REGION__RU864, "RU864", 16},         {HELIUM__REGION__EU868_A, "EU868_A", 16},
        {HELIUM__REGION__EU868_B, "EU868_B", 16},     {HELIUM__REGION__EU868_C, "EU868_C", 16},
        {HELIUM__REGION__EU868_D, "EU868_D", 16},     {HELIUM__REGION__EU868_E, "EU868_E", 16},
        {HELIUM__REGION__EU868_F, "EU868_F", 16},     {HELIUM__REGION__AU915_SB1, "AU915_SB1", 30},
        {HELIUM__REGION__AU915_SB2, "AU915_SB2", 30}, {HELIUM__REGION__AS923_1A, "AS923_1A", 16},
        {HELIUM__REGION__AS923_1C, "AS923_1C", 16},   {HELIUM__REGION__AS923_1D, "AS923_1D", 16},
        {HELIUM__REGION__AS923_1E, "AS923_1E", 16},   {HELIUM__REGION__AS923_1F, "AS923_1F", 16},
};

static const struct region_info *
region_find(Helium__Region r)
{
	for (size_t i = 0; i < LF_ARRAY_SIZE(regions); i++) {
		if (regions[i].region == r) {
			return &regions[i];
		}
	}
	return NULL;
}

int
region_parse(const char *name, Helium__Region *out)
{
	if (name == NULL) {
		return -1;
	}
	for (size_t i = 0; i < LF_ARRAY_SIZE(regions); i++) {
		if (strcasecmp(name, regions[i].name) == 0) {
			*out = regions[i].region;
			return 0;
		}
	}
	return -1;
}

const char *
region_name(Helium__Region r)
{
	const struct region_info *info = region_find(r);
	return info != NULL ? info->name : NULL;
}

int
region_tx_power(Helium__Region r, int override_dbm)
{
	const struct region_info *info = region_find(r);
	if (info == NULL) {
		return -1;
	}
	return override_dbm >= 0 ? override_dbm : info->eirp_dbm;
}
