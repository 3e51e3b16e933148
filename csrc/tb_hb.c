/* heartbeat 3.0.6 messages from the network: tb_hb_decode (docs/protocol.md §heartbeat 3.0.6
 * messages; the reference's §1-§2 say what heartbeat itself does).
 *
 * Two encodings arrive: netstring on UDP ("###\n", "<len>:(<t>)<name>=<value>," per field,
 * "%%%\n", then the trailer "<len>:<N> <hex>,") and classic text on serial (">>>\n",
 * "<name>=<value>\n" per line, "<<<\n"). Parsing is strict where heartbeat's own encoder is
 * exact (decimal lengths without leading zeros, canonical base64, one auth field, nothing
 * after the end), so that an accepted message re-encodes to the same bytes, and lenient
 * only where heartbeat's parser is and its MAC does not care (blank lines in classic text).
 *
 * What the digest covers is heartbeat's choice, reproduced exactly:
 * - netstring: every byte from "###\n" through "%%%\n", checked against the trailer (an
 *   inner "(0)auth=" field, when present, is covered like any field and not checked);
 * - classic: the lines of every field except the one named "auth", each with its "\n",
 *   without the markers or blank lines: heartbeat re-serialises the parsed fields to check
 *   it, and for the canonical lines accepted here that is the received text itself.
 *
 * Every length is checked before it is used; nothing is read past len; the output is the
 * caller's fixed-size tb_hb_msg. Checks fail in this order: oversize, magic, syntax/field
 * (in the order the bytes come), key, mac. */
#include <string.h>

#include <openssl/crypto.h>

#include "twinbeat_wire.h"
#include "tb_internal.h"

#define SPECIAL_SYM 0x13 /* heartbeat's stand-in for "\n" inside a classic string value */

typedef struct auth_ref {
    int present;
    int slot;
    const uint8_t *hex;
    size_t hex_len;
} auth_ref;

/* "<N> <hex>" as heartbeat's sprintf("%d %s") writes it: N 0..15 without leading zeros,
 * one space, 1..TB_HB_MAX_DIGEST lower-case hex digits. */
static int parse_auth(const uint8_t *p, size_t n, auth_ref *auth)
{
    size_t i = 0;
    int slot = 0;
    while (i < n && i < 3 && p[i] >= '0' && p[i] <= '9')
        slot = slot * 10 + (p[i++] - '0');
    if (i == 0 || i > 2 || (i == 2 && p[0] == '0') || i >= n || p[i] != ' ')
        return TB_ERR_SYNTAX;
    size_t hex_len = n - i - 1;
    if (hex_len < 1 || hex_len > TB_HB_MAX_DIGEST)
        return TB_ERR_SYNTAX;
    for (size_t k = i + 1; k < n; k++)
        if (!((p[k] >= '0' && p[k] <= '9') || (p[k] >= 'a' && p[k] <= 'f')))
            return TB_ERR_SYNTAX;
    auth->present = 1;
    auth->slot = slot;
    auth->hex = p + i + 1;
    auth->hex_len = hex_len;
    return TB_OK;
}

/* Append one field to out: the name, then the value decoded for its form and type. */
static int add_field(tb_hb_msg *out, size_t *used, int classic, int type, const uint8_t *name,
                     size_t name_len, const uint8_t *value, size_t value_len)
{
    if (out->field_count >= TB_HB_MAX_FIELDS || !tb_hb_name_ok(name, name_len)
        || value_len == 0)
        return TB_ERR_FIELD;
    /* Decoded values are never longer than their wire text, which fits in the message. */
    tb_hb_field *f = &out->fields[out->field_count];
    f->type = (uint8_t)type;
    f->name_off = (uint16_t)*used;
    f->name_len = (uint16_t)name_len;
    memcpy(out->data + *used, name, name_len);
    *used += name_len;
    f->value_off = (uint16_t)*used;
    uint8_t *dst = out->data + *used;
    size_t n = value_len;
    if (type == TB_HB_BINARY && classic) {
        int r = tb_b64_decode(value, value_len, dst);
        if (r <= 0)
            return TB_ERR_FIELD;
        n = (size_t)r;
    } else if (type == TB_HB_BINARY) {
        memcpy(dst, value, value_len);
    } else {
        /* A string is a C string in heartbeat: no NUL. Classic lines are split at "\n" and
         * heartbeat's parser also ends them at "\r", so neither may appear in one. */
        for (size_t i = 0; i < value_len; i++) {
            uint8_t c = value[i];
            if (c == 0 || (classic && c == '\r'))
                return TB_ERR_FIELD;
            dst[i] = classic && c == SPECIAL_SYM ? '\n' : c;
        }
    }
    f->value_len = (uint16_t)n;
    *used += n;
    out->field_count++;
    return TB_OK;
}

static int note_auth(tb_hb_msg *out, auth_ref *auth, int *auth_field)
{
    /* Only a string field named "auth"; heartbeat's encoder writes it once. */
    tb_hb_field *f = &out->fields[out->field_count - 1];
    if (!tb_hb_is_auth(out->data + f->name_off, f->name_len))
        return TB_OK;
    if (f->type != TB_HB_STRING || *auth_field >= 0)
        return TB_ERR_FIELD;
    *auth_field = (int)out->field_count - 1;
    if (auth == NULL)
        return TB_OK; /* netstring: covered by the trailer, not checked (as heartbeat) */
    return parse_auth(out->data + f->value_off, f->value_len, auth);
}

/* -- netstring -------------------------------------------------------------------------- */

/* One "<len>:<payload>," at *pos: a decimal length without leading zeros, at most 4 digits
 * (TB_HB_MAX_MSG), and the ',' right after the payload, all within len. */
static int peel(const uint8_t *buf, size_t len, size_t *pos, const uint8_t **payload,
                size_t *payload_len)
{
    size_t i = *pos, n = 0, digits = 0;
    while (i < len && buf[i] >= '0' && buf[i] <= '9' && digits < 5) {
        n = n * 10 + (size_t)(buf[i++] - '0');
        digits++;
    }
    if (digits == 0 || digits > 4 || n == 0 || buf[*pos] == '0')
        return TB_ERR_SYNTAX;
    if (i >= len || buf[i] != ':' || n >= len - i - 1 || buf[i + 1 + n] != ',')
        return TB_ERR_SYNTAX;
    *payload = buf + i + 1;
    *payload_len = n;
    *pos = i + 1 + n + 1;
    return TB_OK;
}

/* "(<t>)<name>=<value>": t is 0 (string) or 1 (binary); values are raw. */
static int netstring_field(tb_hb_msg *out, size_t *used, const uint8_t *p, size_t n)
{
    if (n < 5 || p[0] != '(' || p[2] != ')')
        return TB_ERR_SYNTAX;
    if (p[1] != '0' && p[1] != '1')
        return TB_ERR_FIELD; /* structs, lists, compressed: never sent in haresources mode */
    const uint8_t *eq = memchr(p + 3, '=', n - 3);
    if (eq == NULL)
        return TB_ERR_SYNTAX;
    size_t name_len = (size_t)(eq - (p + 3));
    return add_field(out, used, 0, p[1] - '0', p + 3, name_len, eq + 1, n - 3 - name_len - 1);
}

static int decode_netstring(const uint8_t *buf, size_t len, size_t *body_end, auth_ref *auth,
                            tb_hb_msg *out)
{
    size_t pos = 4, used = 0;
    int auth_field = -1;
    for (;;) {
        if (len - pos >= 4 && memcmp(buf + pos, "%%%\n", 4) == 0)
            break;
        const uint8_t *payload;
        size_t n;
        int rc = peel(buf, len, &pos, &payload, &n);
        if (rc == TB_OK)
            rc = netstring_field(out, &used, payload, n);
        if (rc == TB_OK)
            rc = note_auth(out, NULL, &auth_field);
        if (rc != TB_OK)
            return rc;
    }
    pos += 4;
    *body_end = pos;
    const uint8_t *trailer;
    size_t n;
    if (out->field_count == 0 || peel(buf, len, &pos, &trailer, &n) != TB_OK || pos != len)
        return TB_ERR_SYNTAX;
    return parse_auth(trailer, n, auth);
}

/* -- classic text ------------------------------------------------------------------------ */

/* One line "<name>=<value>" or "(1)<name>=<base64>" (without its "\n"). */
static int classic_field(tb_hb_msg *out, size_t *used, const uint8_t *p, size_t n)
{
    const uint8_t *eq = memchr(p, '=', n);
    if (eq == NULL)
        return TB_ERR_FIELD;
    size_t name_len = (size_t)(eq - p);
    int type = TB_HB_STRING;
    if (name_len > 0 && p[0] == '(') {
        /* "(0)" is heartbeat's "wrong type" in this form; structs and lists are not sent. */
        if (name_len < 4 || p[1] != '1' || p[2] != ')')
            return TB_ERR_FIELD;
        type = TB_HB_BINARY;
        p += 3;
        name_len -= 3;
        n -= 3;
    }
    return add_field(out, used, 1, type, p, name_len, p + name_len + 1, n - name_len - 1);
}

static int decode_classic(const uint8_t *buf, size_t len, tb_key *const *keys, auth_ref *auth,
                          tb_hb_msg *out, tb_mac_run *run)
{
    size_t pos = 4, used = 0;
    int auth_field = -1;
    uint16_t line_off[TB_HB_MAX_FIELDS], line_len[TB_HB_MAX_FIELDS];
    for (;;) {
        if (pos >= len)
            return TB_ERR_SYNTAX; /* no "<<<\n" */
        if (buf[pos] == '\n') {
            pos++; /* heartbeat skips blank lines; they are not in its digest either */
            continue;
        }
        const uint8_t *nl = memchr(buf + pos, '\n', len - pos);
        if (nl == NULL)
            return TB_ERR_SYNTAX;
        size_t n = (size_t)(nl - (buf + pos));
        if (n == 3 && memcmp(buf + pos, "<<<", 3) == 0) {
            pos += 4;
            break;
        }
        if (memchr(buf + pos, 0, n) != NULL)
            return TB_ERR_FIELD; /* heartbeat's parser stops at a NUL */
        int rc = classic_field(out, &used, buf + pos, n);
        if (rc == TB_OK)
            rc = note_auth(out, auth, &auth_field);
        if (rc != TB_OK)
            return rc;
        line_off[out->field_count - 1] = (uint16_t)pos;
        line_len[out->field_count - 1] = (uint16_t)(n + 1);
        pos += n + 1;
    }
    if (pos != len || !auth->present)
        return TB_ERR_SYNTAX;
    if (auth->slot >= TB_MAX_KEYS || keys == NULL || keys[auth->slot] == NULL)
        return TB_ERR_KEY;
    int rc = tb_run_begin(run, keys[auth->slot]);
    for (uint32_t i = 0; rc == TB_OK && i < out->field_count; i++)
        if ((int)i != auth_field)
            tb_run_update(run, buf + line_off[i], line_len[i]);
    return rc;
}

/* -- both ----------------------------------------------------------------------------- */

static int check_digest(tb_mac_run *run, const auth_ref *auth)
{
    uint8_t expect[TB_HB_MAX_DIGEST];
    int n = tb_run_hex(run, expect);
    if (n < 0)
        return TB_ERR_MAC; /* fail closed: an OpenSSL failure authenticates nothing */
    /* The length of a digest says nothing about the key; its bytes are compared in
     * constant time (heartbeat uses strcmp: it has to be lower-case hex, as here). */
    if ((size_t)n != auth->hex_len || CRYPTO_memcmp(expect, auth->hex, (size_t)n) != 0)
        return TB_ERR_MAC;
    return TB_OK;
}

int tb_hb_decode(const uint8_t *buf, size_t len, tb_key *const *keys, tb_hb_msg *out)
{
    if (len > TB_HB_MAX_MSG)
        return TB_ERR_OVERSIZE;
    if (len < 4)
        return TB_ERR_MAGIC;
    out->field_count = 0;
    auth_ref auth = {0, 0, NULL, 0};
    tb_mac_run run;
    int rc;
    if (memcmp(buf, "###\n", 4) == 0) {
        out->form = TB_HB_FORM_NETSTRING;
        size_t body_end = 0;
        rc = decode_netstring(buf, len, &body_end, &auth, out);
        if (rc == TB_OK && (auth.slot >= TB_MAX_KEYS || keys == NULL || keys[auth.slot] == NULL))
            rc = TB_ERR_KEY;
        if (rc == TB_OK)
            rc = tb_run_begin(&run, keys[auth.slot]);
        if (rc == TB_OK)
            tb_run_update(&run, buf, body_end);
    } else if (memcmp(buf, ">>>\n", 4) == 0) {
        out->form = TB_HB_FORM_CLASSIC;
        rc = decode_classic(buf, len, keys, &auth, out, &run);
    } else {
        return TB_ERR_MAGIC;
    }
    if (rc == TB_ERR_CRYPTO)
        return TB_ERR_MAC;
    if (rc != TB_OK)
        return rc;
    rc = check_digest(&run, &auth);
    if (rc == TB_OK)
        out->key_index = auth.slot;
    return rc;
}
