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
_Static_assert(TB_COBS_MAX >= TB_COBS_ENCODED_MAX + 1, "TB_COBS_MAX");
_Static_assert(TB_MIN_FRAME == TB_HEAD_LEN + 1 + TB_FIXED_LEN + TB_MAC_LEN_CRC, "min frame");

int tb_full_mac(tb_key *key, const uint8_t *data, size_t len, uint8_t out[TB_FULL_MAC_MAX],
                size_t *out_len);
/* TB_OK when the first key->mac_len bytes of mac match, else TB_ERR_MAC or an error. */
int tb_mac_matches(tb_key *key, const uint8_t *data, size_t len, const uint8_t *mac);

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
