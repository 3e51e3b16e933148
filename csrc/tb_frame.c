/* Status frames: tb_encode and tb_decode (docs/protocol.md §Frame, §Rejections).
 *
 * Both are one C call per frame with every field as a plain argument or struct member,
 * because an empty cffi call costs ~45 ns and a Python-side struct per frame costs more
 * than the MAC (DESIGN.md §9). The order of checks in tb_decode is part of the protocol:
 * the reason a frame is refused for is documented and mirrored by the test oracle. */
#include <string.h>

#include "twinbeat_wire.h"
#include "tb_internal.h"

int tb_wire_version(void) { return TB_WIRE_VERSION; }

static int name_ok(const uint8_t *name, size_t len)
{
    /* Printable ASCII without space: names end up in logs and status lines verbatim. */
    for (size_t i = 0; i < len; i++)
        if (name[i] < 0x21 || name[i] > 0x7e)
            return 0;
    return 1;
}

int tb_encode(tb_key *key, uint8_t key_index, const uint8_t *name, size_t name_len,
              uint32_t fingerprint, uint32_t generation, uint32_t sequence,
              uint32_t timestamp_ms, uint32_t echo_ms, uint16_t echo_delay_ms,
              uint8_t link_id, uint8_t node_state, uint8_t node_flags,
              const uint8_t *groups, size_t group_count, uint8_t *out, size_t out_cap)
{
    if (key_index >= TB_MAX_KEYS)
        return TB_ERR_ARG;
    if (name_len < 1 || name_len > TB_MAX_NAME || !name_ok(name, name_len))
        return TB_ERR_FIELD;
    if (group_count > TB_MAX_GROUPS)
        return TB_ERR_FIELD;
    size_t body = TB_HEAD_LEN + name_len + TB_FIXED_LEN + group_count;
    if (out_cap < body + key->mac_len)
        return TB_ERR_ARG;

    uint8_t *p = out;
    *p++ = TB_MAGIC0;
    *p++ = TB_MAGIC1;
    *p++ = TB_WIRE_VERSION;
    *p++ = TB_TYPE_STATUS;
    *p++ = key_index;
    *p++ = (uint8_t)name_len;
    memcpy(p, name, name_len);
    p += name_len;
    tb_put_u32(p, fingerprint);
    tb_put_u32(p + 4, generation);
    tb_put_u32(p + 8, sequence);
    tb_put_u32(p + 12, timestamp_ms);
    tb_put_u32(p + 16, echo_ms);
    p[20] = (uint8_t)(echo_delay_ms >> 8);
    p[21] = (uint8_t)echo_delay_ms;
    p[22] = link_id;
    p[23] = node_state;
    p[24] = node_flags;
    p[25] = (uint8_t)group_count;
    p += TB_FIXED_LEN;
    if (group_count > 0)
        memcpy(p, groups, group_count);

    uint8_t mac[TB_FULL_MAC_MAX];
    size_t mac_len = 0;
    int rc = tb_full_mac(key, out, body, mac, &mac_len);
    if (rc != TB_OK)
        return rc;
    memcpy(out + body, mac, key->mac_len); /* HMAC-SHA256 is truncated to 16 bytes */
    return (int)(body + key->mac_len);
}

int tb_decode(const uint8_t *buf, size_t len, tb_key *const *keys, tb_frame *out)
{
    /* Cheapest checks first, and nothing is read before its bytes are known to exist. */
    if (len > TB_MAX_FRAME)
        return TB_ERR_OVERSIZE;
    if (len < TB_MIN_FRAME)
        return TB_ERR_LENGTH;
    if (buf[0] != TB_MAGIC0 || buf[1] != TB_MAGIC1)
        return TB_ERR_MAGIC;
    if (buf[2] != TB_WIRE_VERSION)
        return TB_ERR_VERSION;
    if (buf[3] != TB_TYPE_STATUS)
        return TB_ERR_FIELD;
    uint8_t key_index = buf[4];
    if (key_index >= TB_MAX_KEYS || keys == NULL || keys[key_index] == NULL)
        return TB_ERR_KEY;
    tb_key *key = keys[key_index];
    size_t name_len = buf[5];
    if (name_len < 1 || name_len > TB_MAX_NAME)
        return TB_ERR_FIELD;
    size_t fixed = TB_HEAD_LEN + name_len;
    if (fixed + TB_FIXED_LEN > len)
        return TB_ERR_LENGTH;
    const uint8_t *f = buf + fixed;
    size_t group_count = f[25];
    if (group_count > TB_MAX_GROUPS)
        return TB_ERR_FIELD;
    size_t body = fixed + TB_FIXED_LEN + group_count;
    if (body + key->mac_len != len)
        return TB_ERR_LENGTH;
    if (!name_ok(buf + TB_HEAD_LEN, name_len))
        return TB_ERR_FIELD;
    /* Fail closed: an OpenSSL failure while verifying rejects the frame as unauthenticated. */
    if (tb_mac_matches(key, buf, body, buf + body) != TB_OK)
        return TB_ERR_MAC;
    if (out == NULL)
        return TB_OK;

    out->key_index = key_index;
    out->name_len = (uint8_t)name_len;
    memcpy(out->name, buf + TB_HEAD_LEN, name_len);
    out->fingerprint = tb_get_u32(f);
    out->generation = tb_get_u32(f + 4);
    out->sequence = tb_get_u32(f + 8);
    out->timestamp_ms = tb_get_u32(f + 12);
    out->echo_ms = tb_get_u32(f + 16);
    out->echo_delay_ms = (uint16_t)((f[20] << 8) | f[21]);
    out->link_id = f[22];
    out->node_state = f[23];
    out->node_flags = f[24];
    out->group_count = (uint8_t)group_count;
    memcpy(out->groups, f + TB_FIXED_LEN, group_count);
    return TB_OK;
}
