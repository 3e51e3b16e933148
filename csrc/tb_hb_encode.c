/* heartbeat 3.0.6 messages to the network: tb_hb_encode (docs/protocol.md §heartbeat 3.0.6
 * messages).
 *
 * Builds what heartbeat's own encoders build (cluster-glue's msg2netstring and msg2string,
 * heartbeat's add_msg_auth; reference §1.2-§1.4, §2.3): the caller's fields in order, the
 * classic "auth=<N> <hex>" field set in place or appended, and for the netstring form the
 * trailer over everything from "###\n" through "%%%\n". A field is refused when heartbeat
 * could not carry it or tb_hb_decode could not read it back the same (an empty value, a NUL
 * in a string, a name heartbeat would split differently), so encode and decode are inverse.
 *
 * The classic digest is computed over the fields' classic lines without building them: the
 * lines are fed to the MAC piece by piece (a binary value through a small base64 buffer). */
#include <string.h>

#include "twinbeat_wire.h"
#include "tb_internal.h"

#define SPECIAL_SYM 0x13

/* Where encoded bytes go: an output buffer, a running MAC, or both. */
typedef struct sink {
    uint8_t *out;
    size_t cap;
    size_t len;
    tb_mac_run *mac;
    int overflow;
} sink;

static void put(sink *s, const void *p, size_t n)
{
    if (s->mac != NULL)
        tb_run_update(s->mac, p, n);
    if (s->out == NULL)
        return;
    if (n > s->cap - s->len) {
        s->overflow = 1;
        return;
    }
    memcpy(s->out + s->len, p, n);
    s->len += n;
}

static void put_decimal(sink *s, size_t v)
{
    uint8_t digits[20];
    size_t n = 0;
    do {
        digits[sizeof digits - ++n] = (uint8_t)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    put(s, digits + sizeof digits - n, n);
}

/* A field both forms can carry and tb_hb_decode reads back unchanged. */
static int field_ok(const uint8_t *data, size_t data_len, const tb_hb_field *f)
{
    if ((size_t)f->name_off + f->name_len > data_len
        || (size_t)f->value_off + f->value_len > data_len)
        return 0;
    if (!tb_hb_name_ok(data + f->name_off, f->name_len) || f->value_len == 0)
        return 0;
    if (f->type == TB_HB_BINARY)
        return !tb_hb_is_auth(data + f->name_off, f->name_len);
    if (f->type != TB_HB_STRING)
        return 0;
    /* Strings: no NUL (C strings), and none of the bytes the classic form cannot give back:
     * "\r" ends a line there, and 0x13 already stands for "\n". */
    const uint8_t *v = data + f->value_off;
    return memchr(v, 0, f->value_len) == NULL && memchr(v, '\r', f->value_len) == NULL
           && memchr(v, SPECIAL_SYM, f->value_len) == NULL;
}

/* "<name>=<value>\n" or "(1)<name>=<base64>\n", as heartbeat's msg2string_buf writes it. */
static void classic_line(sink *s, const uint8_t *data, const tb_hb_field *f)
{
    const uint8_t *v = data + f->value_off;
    if (f->type == TB_HB_BINARY)
        put(s, "(1)", 3);
    put(s, data + f->name_off, f->name_len);
    put(s, "=", 1);
    if (f->type == TB_HB_BINARY) {
        uint8_t chunk[64]; /* 48 bytes of value at a time */
        for (size_t i = 0; i < f->value_len; i += 48) {
            size_t n = f->value_len - i < 48 ? f->value_len - i : 48;
            put(s, chunk, tb_b64_encode(v + i, n, chunk));
        }
    } else {
        size_t start = 0;
        for (size_t i = 0; i <= f->value_len; i++) {
            if (i == f->value_len || v[i] == '\n') {
                put(s, v + start, i - start);
                if (i < f->value_len)
                    put(s, (const uint8_t[]){SPECIAL_SYM}, 1);
                start = i + 1;
            }
        }
    }
    put(s, "\n", 1);
}

/* "<len>:(<t>)<name>=<value>," with the value raw, as cluster-glue's netstring encoder. */
static void netstring_field(sink *s, const uint8_t *name, size_t name_len, int type,
                            const uint8_t *value, size_t value_len)
{
    put_decimal(s, 3 + name_len + 1 + value_len);
    put(s, type == TB_HB_BINARY ? ":(1)" : ":(0)", 4);
    put(s, name, name_len);
    put(s, "=", 1);
    put(s, value, value_len);
    put(s, ",", 1);
}

/* "<N> <hex>" of the classic digest: every field's classic line except auth's. */
static int write_auth_value(tb_key *key, uint8_t key_index, const uint8_t *data,
                            const tb_hb_field *fields, size_t count, uint8_t *auth,
                            size_t *auth_len)
{
    tb_mac_run run;
    int rc = tb_run_begin(&run, key);
    if (rc != TB_OK)
        return rc == TB_ERR_KEY ? TB_ERR_ARG : rc;
    sink mac = {NULL, 0, 0, &run, 0};
    for (size_t i = 0; i < count; i++)
        if (!tb_hb_is_auth(data + fields[i].name_off, fields[i].name_len))
            classic_line(&mac, data, &fields[i]);
    size_t n = 0;
    if (key_index >= 10)
        auth[n++] = (uint8_t)('0' + key_index / 10);
    auth[n++] = (uint8_t)('0' + key_index % 10);
    auth[n++] = ' ';
    int hex = tb_run_hex(&run, auth + n);
    if (hex < 0)
        return TB_ERR_CRYPTO;
    *auth_len = n + (size_t)hex;
    return TB_OK;
}

static void encode_classic(sink *s, const uint8_t *data, const tb_hb_field *fields,
                           size_t count, const uint8_t *auth, size_t auth_len, int has_auth)
{
    static const tb_hb_field auth_field = {0, 4, 4, 0, TB_HB_STRING};
    uint8_t line[4 + TB_HB_MAX_DIGEST + 4];
    memcpy(line, "auth", 4);
    memcpy(line + 4, auth, auth_len);
    tb_hb_field af = auth_field;
    af.value_len = (uint16_t)auth_len;
    put(s, ">>>\n", 4);
    for (size_t i = 0; i < count; i++) {
        if (tb_hb_is_auth(data + fields[i].name_off, fields[i].name_len))
            classic_line(s, line, &af);
        else
            classic_line(s, data, &fields[i]);
    }
    if (!has_auth)
        classic_line(s, line, &af);
    put(s, "<<<\n", 4);
}

static int encode_netstring(sink *s, tb_key *key, uint8_t key_index, const uint8_t *data,
                            const tb_hb_field *fields, size_t count, const uint8_t *auth,
                            size_t auth_len, int append_auth)
{
    put(s, "###\n", 4);
    for (size_t i = 0; i < count; i++) {
        const tb_hb_field *f = &fields[i];
        if (tb_hb_is_auth(data + f->name_off, f->name_len))
            netstring_field(s, (const uint8_t *)"auth", 4, TB_HB_STRING, auth, auth_len);
        else
            netstring_field(s, data + f->name_off, f->name_len, f->type,
                            data + f->value_off, f->value_len);
    }
    if (append_auth)
        netstring_field(s, (const uint8_t *)"auth", 4, TB_HB_STRING, auth, auth_len);
    put(s, "%%%\n", 4);
    if (s->overflow)
        return TB_ERR_OVERSIZE;
    /* The trailer: heartbeat's digest of everything so far, with the signing slot. */
    uint8_t trailer[3 + TB_HB_MAX_DIGEST];
    size_t n = 0;
    if (key_index >= 10)
        trailer[n++] = (uint8_t)('0' + key_index / 10);
    trailer[n++] = (uint8_t)('0' + key_index % 10);
    trailer[n++] = ' ';
    int hex = tb_hb_digest(key, s->out, s->len, trailer + n, sizeof trailer - n);
    if (hex < 0)
        return hex == TB_ERR_ARG ? TB_ERR_ARG : TB_ERR_CRYPTO;
    put_decimal(s, n + (size_t)hex);
    put(s, ":", 1);
    put(s, trailer, n + (size_t)hex);
    put(s, ",", 1);
    return TB_OK;
}

int tb_hb_encode(tb_key *key, uint8_t key_index, int form, int inner_auth,
                 const uint8_t *data, size_t data_len, const tb_hb_field *fields, size_t count,
                 uint8_t *out, size_t out_cap)
{
    if (key_index >= TB_MAX_KEYS || (form != TB_HB_FORM_NETSTRING && form != TB_HB_FORM_CLASSIC))
        return TB_ERR_ARG;
    if (count == 0 || count > TB_HB_MAX_FIELDS)
        return TB_ERR_FIELD;
    int has_auth = 0;
    for (size_t i = 0; i < count; i++) {
        if (!field_ok(data, data_len, &fields[i]))
            return TB_ERR_FIELD;
        if (tb_hb_is_auth(data + fields[i].name_off, fields[i].name_len) && has_auth++)
            return TB_ERR_FIELD; /* one auth field at most, as heartbeat writes it */
    }
    int classic = form == TB_HB_FORM_CLASSIC;
    if (count + (!has_auth && (classic || inner_auth)) > TB_HB_MAX_FIELDS)
        return TB_ERR_FIELD;
    uint8_t auth[3 + TB_HB_MAX_DIGEST];
    size_t auth_len = 0;
    int rc = TB_OK;
    if (classic || has_auth || inner_auth)
        rc = write_auth_value(key, key_index, data, fields, count, auth, &auth_len);
    if (rc != TB_OK)
        return rc;
    size_t cap = out_cap < TB_HB_MAX_MSG ? out_cap : TB_HB_MAX_MSG;
    sink s = {out, cap, 0, NULL, 0};
    if (classic)
        encode_classic(&s, data, fields, count, auth, auth_len, has_auth);
    else
        rc = encode_netstring(&s, key, key_index, data, fields, count, auth, auth_len,
                              !has_auth && inner_auth);
    if (rc != TB_OK)
        return rc;
    if (s.overflow)
        return out_cap < TB_HB_MAX_MSG ? TB_ERR_ARG : TB_ERR_OVERSIZE;
    return (int)s.len;
}
