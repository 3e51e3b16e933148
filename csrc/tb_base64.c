/* Base64 for heartbeat's classic binary fields ("(1)srcuuid=<base64>", reference §1.2).
 *
 * heartbeat (GL base64.c) uses the standard alphabet with '=' padding. Decoding accepts
 * only what that encoder produces, so that a decoded field encodes back to the same text:
 * heartbeat computes a classic message's digest over its own re-encoding of the fields,
 * and twinbeat computes it over the received lines, which is the same thing only for
 * canonical base64 (docs/protocol.md §heartbeat 3.0.6 messages). */
#include "twinbeat_wire.h"
#include "tb_internal.h"

static const char ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t tb_b64_encode(const uint8_t *in, size_t len, uint8_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = (uint8_t)ALPHABET[(v >> 18) & 0x3F];
        out[o++] = (uint8_t)ALPHABET[(v >> 12) & 0x3F];
        out[o++] = i + 1 < len ? (uint8_t)ALPHABET[(v >> 6) & 0x3F] : '=';
        out[o++] = i + 2 < len ? (uint8_t)ALPHABET[v & 0x3F] : '=';
    }
    return o;
}

/* The 6-bit value of an alphabet character, or -1. */
static int sextet(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int tb_b64_decode(const uint8_t *in, size_t len, uint8_t *out)
{
    if (len == 0 || len % 4 != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int last = i + 4 == len;
        /* '=' only in the last quantum: "xx==" (one byte) or "xxx=" (two bytes). */
        size_t pad = 0;
        if (last && in[i + 3] == '=')
            pad = in[i + 2] == '=' ? 2 : 1;
        uint32_t v = 0;
        for (size_t k = 0; k < 4; k++) {
            int s = k >= 4 - pad ? 0 : sextet(in[i + k]);
            if (s < 0)
                return -1;
            v = (v << 6) | (uint32_t)s;
        }
        /* The bits the padding leaves unused must be zero, or two texts decode alike. */
        if ((pad == 1 && (v & 0xFF) != 0) || (pad == 2 && (v & 0xFFFF) != 0))
            return -1;
        out[o++] = (uint8_t)(v >> 16);
        if (pad < 2)
            out[o++] = (uint8_t)(v >> 8);
        if (pad < 1)
            out[o++] = (uint8_t)v;
    }
    return (int)o;
}
