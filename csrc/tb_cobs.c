/* COBS framing for serial links (docs/protocol.md §Serial); the stream reader is tb_deframe.c.
 *
 * COBS removes every 0x00 from a frame so that 0x00 can mark frame ends: after line noise
 * or a cable pull the reader loses at most the frame it was in and resynchronises at the
 * next 0x00. */
#include <string.h>

#include "twinbeat_wire.h"
#include "tb_internal.h"

int tb_cobs_frame(const uint8_t *in, size_t len, uint8_t *out, size_t out_cap)
{
    /* One code byte per started 254-byte block, plus the delimiter. */
    if (out_cap < len + len / 254 + 2)
        return TB_ERR_ARG;
    size_t code_pos = 0, o = 1;
    uint8_t code = 1;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == 0) {
            out[code_pos] = code;
            code_pos = o++;
            code = 1;
            continue;
        }
        out[o++] = in[i];
        if (++code == 0xFF) { /* a full block has no implied zero after it */
            out[code_pos] = code;
            code_pos = o++;
            code = 1;
        }
    }
    out[code_pos] = code;
    out[o++] = 0;
    return (int)o;
}

int tb_cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t out_cap)
{
    size_t i = 0, o = 0;
    while (i < len) {
        uint8_t code = in[i++];
        size_t run = (size_t)code - 1;
        if (code == 0 || run > len - i || memchr(in + i, 0, run) != NULL)
            return TB_ERR_GARBAGE;
        if (run > out_cap - o)
            return TB_ERR_ARG;
        memcpy(out + o, in + i, run);
        i += run;
        o += run;
        if (code != 0xFF && i < len) {
            if (o >= out_cap)
                return TB_ERR_ARG;
            out[o++] = 0;
        }
    }
    return (int)o;
}
