/* The serial stream reader: COBS frames and heartbeat's classic text (docs/protocol.md
 * §Serial links).
 *
 * A serial line may carry twinbeat's COBS frames, each ended by 0x00, and heartbeat 3.0.6's
 * classic text messages (">>>\n" ... "<<<\n", reference §5.4), which never contain 0x00:
 * a twinbeat node must recognise a peer that still runs heartbeat. The reader reads both,
 * on the same rules as heartbeat's own reader for the text: a message starts with a line
 * that is exactly ">>>" and ends with a line that is exactly "<<<". A line starts after
 * "\n", and also at every boundary (the stream's start, a 0x00, a message's end), so that
 * ">>>\n" right after a frame is recognised.
 *
 * Everything is bounded and counted. COBS bytes: at most a maximal encoded frame is
 * buffered, a longer run is skipped to its 0x00 (dropped_oversize), bad COBS is garbage.
 * Text: at most TB_HB_MAX_MSG is buffered, a longer message is skipped to its end marker
 * (dropped_oversize); a message cut short (by a 0x00, or by another start marker: the
 * sender restarted or the cable was pulled) is garbage, as is anything before a start
 * marker that is not a finished frame or blank lines. Matching the markers costs two counters, so it runs
 * on every byte, buffered or skipped: the reader always finds the next message.
 *
 * A COBS frame holding the bytes "\n>>>\n" would be taken for the start of a text message
 * and lost (one frame, counted as garbage): only its MAC or timestamps can hold "\n", so
 * that is about once in 2^40 frames. */
#include <string.h>

#include "twinbeat_wire.h"
#include "tb_internal.h"

/* Bytes of "\n" mark mark mark "\n" matched after c, from k matched before. */
static uint8_t step(uint8_t k, uint8_t c, uint8_t mark)
{
    if (k == 5)
        k = 1; /* the full marker ended in "\n": a line starts */
    uint8_t want = (k == 0 || k == 4) ? '\n' : mark;
    if (c == want)
        return (uint8_t)(k + 1);
    return c == '\n' ? 1 : 0;
}

void tb_deframer_init(tb_deframer *d)
{
    memset(d, 0, sizeof *d);
    d->m_start = 1; /* the stream starts at a line start */
}

static void to_boundary(tb_deframer *d)
{
    d->text = 0;
    d->discarding = 0;
    d->len = 0;
    d->run = 0;
    d->m_start = 1;
}

static void start_text(tb_deframer *d)
{
    d->text = 1;
    d->discarding = 0;
    memcpy(d->buf, ">>>\n", 4);
    d->len = 4;
    d->run = 0;
    d->m_end = 1; /* the marker's "\n" starts a line */
}

/* A 0x00 ended the COBS bytes buffered: decode them into out. Returns the frame's length,
 * or 0 (idle delimiter, or a dropped frame, which is counted). */
static size_t end_frame(tb_deframer *d, uint8_t *out)
{
    size_t n = d->len;
    int skipped = d->discarding;
    to_boundary(d);
    if (skipped) {
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

static size_t frame_byte(tb_deframer *d, uint8_t c, uint8_t *out)
{
    if (c == 0)
        return end_frame(d, out);
    if (c != '\n' && d->run < UINT32_MAX)
        d->run++; /* blank lines before a text message are not garbage */
    if (!d->discarding) {
        if (d->len + 1 > TB_COBS_ENCODED_MAX) {
            d->discarding = 1; /* too long to be a frame: skip to the next 0x00 */
            d->len = 0;
        } else {
            d->buf[d->len++] = c;
        }
    }
    if (d->m_start == 5) {
        /* ">>>\n" at a line start: heartbeat text. What came before it was no frame. */
        if (d->discarding)
            d->dropped_oversize++;
        else if (d->run > 3) /* more than the marker's ">>>" */
            d->dropped_garbage++;
        start_text(d);
    }
    return 0;
}

static size_t text_byte(tb_deframer *d, uint8_t c, uint8_t *out)
{
    if (c == 0 || d->m_start == 5) {
        /* Cut short: a frame's delimiter, or the start of another message. */
        if (d->discarding)
            d->dropped_oversize++;
        else
            d->dropped_garbage++;
        if (c == 0)
            to_boundary(d);
        else
            start_text(d);
        return 0;
    }
    if (!d->discarding) {
        if (d->len == TB_HB_MAX_MSG)
            d->discarding = 1; /* too long for a message: skip to its end */
        else
            d->buf[d->len++] = c;
    }
    if (d->m_end != 5)
        return 0;
    size_t n = d->len;
    int skipped = d->discarding;
    to_boundary(d);
    if (skipped) {
        d->dropped_oversize++;
        return 0;
    }
    memcpy(out, d->buf, n);
    d->classic++;
    return n;
}

/* Take input up to the end of the next message. Returns the length of the message written
 * to out (which has TB_DEFRAME_ROOM bytes of room), or 0 when none ended in the input. */
static size_t deframe_one(tb_deframer *d, const uint8_t *in, size_t len, size_t *consumed,
                          uint8_t *out)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t c = in[i];
        d->m_start = step(d->m_start, c, '>');
        d->m_end = step(d->m_end, c, '<');
        size_t n = d->text ? text_byte(d, c, out) : frame_byte(d, c, out);
        if (n > 0) {
            *consumed = i + 1;
            return n;
        }
    }
    *consumed = len;
    return 0;
}

int tb_deframe(tb_deframer *d, const uint8_t *in, size_t len, size_t *consumed,
               uint8_t *out, size_t out_cap, uint32_t *ends, size_t max_frames)
{
    if (out_cap < TB_DEFRAME_ROOM || max_frames == 0)
        return TB_ERR_ARG;
    size_t pos = 0, used = 0, count = 0;
    while (pos < len && count < max_frames && out_cap - used >= TB_DEFRAME_ROOM) {
        size_t step_len = 0;
        size_t n = deframe_one(d, in + pos, len - pos, &step_len, out + used);
        pos += step_len;
        if (n > 0) {
            used += n;
            ends[count++] = (uint32_t)used;
        }
    }
    *consumed = pos;
    return (int)count;
}
