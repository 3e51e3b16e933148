/* COBS framing for serial links and the stream deframer (docs/protocol.md §Serial).
 *
 * COBS removes every 0x00 from a frame so that 0x00 can mark frame ends: after line noise
 * or a cable pull the reader loses at most the frame it was in and resynchronises at the
 * next 0x00. The deframer buffers at most one maximal encoded frame; anything longer is
 * skipped to the next delimiter rather than buffered. */
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

void tb_deframer_init(tb_deframer *d)
{
    memset(d, 0, sizeof *d);
}

/* Take input up to and including the next 0x00. Returns the length of the frame that ended
 * there (written to out, which has room for TB_COBS_MAX bytes), or 0 when no frame came out
 * (input used up, idle delimiter, or a dropped frame, which is counted). */
static size_t deframe_one(tb_deframer *d, const uint8_t *in, size_t len, size_t *consumed,
                          uint8_t *out)
{
    const uint8_t *delim = memchr(in, 0, len);
    size_t take = delim != NULL ? (size_t)(delim - in) : len;
    *consumed = delim != NULL ? take + 1 : len;

    if (!d->discarding) {
        if (d->len + take > TB_COBS_ENCODED_MAX) {
            d->discarding = 1; /* too long to be a frame: skip to the next 0x00 */
            d->len = 0;
        } else {
            memcpy(d->buf + d->len, in, take);
            d->len += take;
        }
    }
    if (delim == NULL)
        return 0;

    size_t n = d->len;
    d->len = 0;
    if (d->discarding) {
        d->discarding = 0;
        d->dropped_oversize++;
        return 0;
    }
    if (n == 0)
        return 0; /* back-to-back delimiters: a sender flushing the line, not an error */
    int r = tb_cobs_decode(d->buf, n, out, TB_COBS_MAX);
    if (r <= 0) { /* not COBS, or an empty frame, which is never a status frame */
        d->dropped_garbage++;
        return 0;
    }
    if (r > TB_MAX_FRAME) {
        d->dropped_oversize++;
        return 0;
    }
    d->frames++;
    return (size_t)r;
}

int tb_deframe(tb_deframer *d, const uint8_t *in, size_t len, size_t *consumed,
               uint8_t *out, size_t out_cap, uint32_t *ends, size_t max_frames)
{
    if (out_cap < TB_COBS_MAX || max_frames == 0)
        return TB_ERR_ARG;
    size_t pos = 0, used = 0, count = 0;
    while (pos < len && count < max_frames && out_cap - used >= TB_COBS_MAX) {
        size_t step = 0;
        size_t n = deframe_one(d, in + pos, len - pos, &step, out + used);
        pos += step;
        if (n > 0) {
            used += n;
            ends[count++] = (uint32_t)used;
        }
    }
    *consumed = pos;
    return (int)count;
}
