/* Helium regions: config names <-> helium.region, and default TX power. */
#ifndef RL_REGION_H
#define RL_REGION_H

#include "region.pb-c.h"

/*
 * Parses a helium.region name in any case ("us915", "AS923_1", "eu868_a").
 * UNKNOWN and anything else is refused. Returns 0 or -1.
 */
int region_parse(const char *name, Helium__Region *out);

/* The canonical upper-case name, or NULL for UNKNOWN and values outside the enum. */
const char *region_name(Helium__Region r);

/*
 * Transmit power for downlinks, as EIRP in dBm (what Semtech `powe` means:
 * the forwarder subtracts its own antenna gain). An override >= 0 from the
 * config replaces the region default; < 0 means none. Returns -1 for
 * UNKNOWN and values outside the enum.
 */
int region_tx_power(Helium__Region r, int override_dbm);

#endif
