/* The [bridge] section, and the sections the bridge reads. */
#include <stddef.h>

#include "bridge.h"

#define OPT(field) offsetof(struct bridge_config, field)

const struct lf_cfg_option bridge_cfg_options[] = {
        {.name = "udp_bind",
         .type = LF_CFG_HOSTPORT,
         .offset = OPT(udp_bind),
         .default_value = "0.0.0.0:1680",
         .min = 0,
         .max = 65535,
         .help = "UDP address for the gateways (host:port, [v6]:port; port 0 picks a free port "
                 "and logs it)"},
        {.name = "instance",
         .type = LF_CFG_STRING,
         .offset = OPT(instance),
         .help = "this bridge's name in lorafleet/bridge/<instance>/... and in state messages "
                 "(empty: the host name)"},
        {.name = "gateway_timeout",
         .type = LF_CFG_DURATION,
         .offset = OPT(gateway_timeout),
         .default_value = "60s",
         .min = 1 * LF_MS_PER_S,
         .max = LF_MS_PER_DAY,
         .help = "a gateway with no PULL_DATA for this long is marked offline"},
        {.name = "forward_crc_bad",
         .type = LF_CFG_BOOL,
         .offset = OPT(forward_crc_bad),
         .default_value = "false",
         .help = "also publish frames whose CRC failed (rxpk stat -1)"},
        {.name = "buffer_max",
         .type = LF_CFG_INT,
         .offset = OPT(buffer_max),
         .default_value = "100000",
         .min = 100,
         .max = 10000000,
         .help = "messages held (not yet acknowledged) while the broker is unreachable or "
                 "slow; past it new uplinks are dropped and counted"},
        {.name = "tx_ack_timeout",
         .type = LF_CFG_DURATION,
         .offset = OPT(tx_ack_timeout),
         .default_value = "5s",
         .min = 100,
         .max = 60 * LF_MS_PER_S,
         .help = "how long to wait for a gateway's TX_ACK before acking TIMEOUT"},
        {.name = "pin_address",
         .type = LF_CFG_BOOL,
         .offset = OPT(pin_address),
         .default_value = "false",
         .help = "ignore datagrams for a live gateway that come from another IP address "
                 "(against EUI spoofing)"},
        {.name = "metrics_interval",
         .type = LF_CFG_DURATION,
         .offset = OPT(metrics_interval),
         .default_value = "10s",
         .min = 1 * LF_MS_PER_S,
         .max = 3600 * LF_MS_PER_S,
         .help = "how often the retained metrics snapshot is published"},
        {.name = "udp_rcvbuf",
         .type = LF_CFG_INT,
         .offset = OPT(udp_rcvbuf),
         .default_value = "4194304",
         .min = 65536,
         .max = 268435456,
         .help = "UDP receive buffer in bytes (SO_RCVBUF), to absorb bursts"},
        {.name = "max_gateways",
         .type = LF_CFG_INT,
         .offset = OPT(max_gateways),
         .default_value = "100000",
         .min = 1,
         .max = 10000000,
         .help = "gateways this bridge keeps (it forgets none until it restarts); datagrams "
                 "of a new gateway past it are ignored and counted"},
        {.name = NULL},
};

void
bridge_cfg_sections(struct bridge_settings *settings,
                    struct lf_cfg_section out[BRIDGE_CFG_SECTIONS])
{
	out[0] = (struct lf_cfg_section){"mqtt", lf_mqtt_cfg_options, &settings->mqtt};
	out[1] = (struct lf_cfg_section){"log", lf_log_cfg_options, &settings->log};
	out[2] = (struct lf_cfg_section){"bridge", bridge_cfg_options, &settings->bridge};
}
