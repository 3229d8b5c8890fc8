/* What the bridge does with the JSON of a datagram, with its promises
 * checked: shared by fuzz_gwmp (whole datagrams) and fuzz_uplink_map. */
#ifndef LF_FUZZ_BRIDGE_CHECKS_H
#define LF_FUZZ_BRIDGE_CHECKS_H

#include <stddef.h>
#include <stdint.h>

/* A PUSH_DATA body through uplink_map(), as handle_push_data() does, with
 * forward_crc_bad off and on: every payload it publishes is a JSON object
 * every consumer can read, with mac, received_at and rxpk or stat. */
void check_push_data(const char *body, size_t len);

/* A TX_ACK body through txack_parse() and ack_build(), as
 * bridge_handle_tx_ack() does: every TX_ACK ends in one readable ack. */
void check_tx_ack(const char *body, size_t len);

#endif
