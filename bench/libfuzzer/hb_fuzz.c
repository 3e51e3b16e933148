/* libFuzzer harness for the heartbeat 3.0.6 codec and the serial reader (csrc/tb_hb*.c,
 * csrc/tb_deframe.c), to run under AddressSanitizer and UBSan: bench/libfuzzer/run.sh.
 *
 * Per input: tb_hb_decode with every kind of slot; when a message verifies, it is built
 * again from its fields with the same key and must decode to the same fields (encode and
 * decode are inverse, docs/protocol.md §heartbeat 3.0.6 messages); the native tb_decode;
 * and the input through the deframer in reads of varying size, whose output must stay
 * within its bounds. Any abort is a finding. The harness keeps its keys in statics (made
 * once); the codec itself has no globals. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "twinbeat_wire.h"

static tb_key keys[TB_MAX_KEYS];
static tb_key *ptrs[TB_MAX_KEYS];

static void init_keys(void)
{
    static const uint8_t secret[] = "fuzz-secret";
    static const int methods[] = {TB_METHOD_CRC, TB_METHOD_SHA256, TB_METHOD_SHA1,
                                  TB_METHOD_MD5};
    for (int i = 0; i < 4; i++) {
        if (tb_key_init(&keys[i], methods[i], secret, sizeof secret - 1) != TB_OK)
            abort();
        ptrs[i] = &keys[i];
    }
}

static void same_fields(const tb_hb_msg *a, const tb_hb_msg *b)
{
    if (a->field_count != b->field_count)
        abort();
    for (uint32_t i = 0; i < a->field_count; i++) {
        const tb_hb_field *x = &a->fields[i], *y = &b->fields[i];
        if (x->type != y->type || x->name_len != y->name_len || x->value_len != y->value_len
            || memcmp(a->data + x->name_off, b->data + y->name_off, x->name_len) != 0)
            abort();
        /* the auth field's value is recomputed: it may legitimately differ */
        int auth = x->name_len == 4 && memcmp(a->data + x->name_off, "auth", 4) == 0;
        if (!auth && memcmp(a->data + x->value_off, b->data + y->value_off, x->value_len) != 0)
            abort();
    }
}

static void round_trip(const tb_hb_msg *msg)
{
    static uint8_t out[TB_HB_MAX_MSG];
    static tb_hb_msg again;
    tb_key *key = ptrs[msg->key_index];
    int n = tb_hb_encode(key, (uint8_t)msg->key_index, msg->form, 1, msg->data,
                         sizeof msg->data, msg->fields, msg->field_count, out, sizeof out);
    if (n == TB_ERR_OVERSIZE)
        return; /* blank lines dropped, yet an inner auth field added: may not fit */
    if (n < 0 || n > TB_HB_MAX_MSG)
        abort();
    if (tb_hb_decode(out, (size_t)n, ptrs, &again) != TB_OK)
        abort();
    /* netstring without an inner auth field gains one: compare the fields it had */
    if (again.field_count == msg->field_count + 1)
        again.field_count--;
    same_fields(msg, &again);
}

static void deframe(const uint8_t *data, size_t size)
{
    static tb_deframer d;
    static uint8_t out[4 * TB_DEFRAME_ROOM];
    static uint32_t ends[16];
    tb_deframer_init(&d);
    size_t pos = 0, step = size > 0 ? (size_t)data[0] % 97 + 1 : 1;
    while (pos < size) {
        size_t len = size - pos < step ? size - pos : step, used = 0;
        while (used < len) {
            size_t consumed = 0;
            int n = tb_deframe(&d, data + pos + used, len - used, &consumed, out, sizeof out,
                               ends, 16);
            if (n < 0 || consumed > len - used)
                abort();
            for (int i = 0; i < n; i++) {
                uint32_t start = i ? ends[i - 1] : 0;
                if (ends[i] <= start || ends[i] - start > TB_HB_MAX_MSG)
                    abort();
            }
            used += consumed;
        }
        pos += len;
        step = step * 7 % 301 + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    static tb_hb_msg msg;
    static tb_frame frame;
    if (!ready) {
        init_keys();
        ready = 1;
    }
    if (tb_hb_decode(data, size, ptrs, &msg) == TB_OK)
        round_trip(&msg);
    (void)tb_decode(data, size, ptrs, &frame);
    deframe(data, size);
    return 0;
}
