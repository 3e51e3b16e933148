/* Helpers shared by the codec's C files; not part of the cffi interface. */
#ifndef TB_INTERNAL_H
#define TB_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "twinbeat_wire.h"

/* Room for the longest untruncated MAC OpenSSL may hand back (SHA-256: 32 bytes). */
#define TB_FULL_MAC_MAX 64
/* Longest COBS encoding of a TB_MAX_FRAME frame, without the delimiter. */
#define TB_COBS_ENCODED_MAX (TB_MAX_FRAME + TB_MAX_FRAME / 254 + 1)

/* The header spells some sizes as literals because cffi's cdef cannot evaluate macros;
 * these checks keep the literals and the constants from drifting apart. */
_Static_assert(sizeof(((tb_frame *)0)->name) == TB_MAX_NAME, "tb_frame.name size");
_Static_assert(sizeof(((tb_frame *)0)->groups) == TB_MAX_GROUPS, "tb_frame.groups size");
_Static_assert(sizeof(((tb_deframer *)0)->buf) >= TB_COBS_ENCODED_MAX, "deframer size");
_Static_assert(sizeof(((tb_deframer *)0)->buf) == TB_HB_MAX_MSG, "deframer text size");
_Static_assert(TB_DEFRAME_ROOM >= TB_HB_MAX_MSG && TB_DEFRAME_ROOM >= TB_COBS_MAX, "room");
_Static_assert(sizeof(((tb_hb_msg *)0)->fields) / sizeof(tb_hb_field) == TB_HB_MAX_FIELDS,
               "tb_hb_msg.fields size");
_Static_assert(sizeof(((tb_hb_msg *)0)->data) == TB_HB_MAX_MSG, "tb_hb_msg.data size");
/* Offsets and lengths of heartbeat fields are uint16_t. */
_Static_assert(TB_HB_MAX_MSG <= 0xFFFF, "TB_HB_MAX_MSG fits uint16_t");
_Static_assert(TB_COBS_MAX >= TB_COBS_ENCODED_MAX + 1, "TB_COBS_MAX");
_Static_assert(TB_MIN_FRAME == TB_HEAD_LEN + 1 + TB_FIXED_LEN + TB_MAC_LEN_CRC, "min frame");

int tb_full_mac(tb_key *key, const uint8_t *data, size_t len, uint8_t out[TB_FULL_MAC_MAX],
                size_t *out_len);
/* TB_OK when the first key->mac_len bytes of mac match, else TB_ERR_MAC or an error. */
int tb_mac_matches(tb_key *key, const uint8_t *data, size_t len, const uint8_t *mac);

/* A MAC over several pieces: heartbeat's classic auth covers every line but its own, and the
 * encoder computes it without building that text. Lives on the caller's stack. */
typedef struct tb_mac_run {
    tb_key *key;
    uint32_t crc;
    int failed;
} tb_mac_run;

/* TB_OK, TB_ERR_KEY for a method heartbeat does not have (sha256), or TB_ERR_CRYPTO. */
int tb_run_begin(tb_mac_run *run, tb_key *key);
void tb_run_update(tb_mac_run *run, const uint8_t *data, size_t len);
/* heartbeat's digest text into hex (no NUL): returns its length or TB_ERR_CRYPTO. */
int tb_run_hex(tb_mac_run *run, uint8_t hex[TB_HB_MAX_DIGEST]);
uint32_t tb_hb_crc_update(uint32_t crc, const uint8_t *data, size_t len);

/* Standard base64 with '=' padding (heartbeat's, GL base64.c), for classic binary fields. */
#define TB_B64_LEN(n) (((n) + 2) / 3 * 4)
size_t tb_b64_encode(const uint8_t *in, size_t len, uint8_t *out);
/* Decodes only the canonical form (length a multiple of 4, padding only at the end, unused
 * bits zero), so that re-encoding gives back the same text: heartbeat's classic digest is
 * computed over its own re-encoding. Returns the decoded length or -1. */
int tb_b64_decode(const uint8_t *in, size_t len, uint8_t *out);

/* A heartbeat field name (tb_hb.c parses them, tb_hb_encode.c checks them): printable ASCII
 * without space or '=' (the separator); '(' would read as a type prefix in the classic form.
 * heartbeat's names are short lower-case words. */
static inline int tb_hb_name_ok(const uint8_t *p, size_t n)
{
    if (n < 1 || n > TB_HB_MAX_NAME || p[0] == '(')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x21 || p[i] > 0x7e || p[i] == '=')
            return 0;
    return 1;
}

/* The field that carries a classic message's digest (never covered by it). */
static inline int tb_hb_is_auth(const uint8_t *name, size_t n)
{
    return n == 4 && name[0] == 'a' && name[1] == 'u' && name[2] == 't' && name[3] == 'h';
}

static inline void tb_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t tb_get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

#endif
