/* Keys and MACs: HMAC through OpenSSL 3's EVP_MAC, and CRC-32 (docs/protocol.md §MAC).
 *
 * A key is made once per authkeys slot (tb_key_init): the keyed context plus a working copy.
 * Per frame the copy is re-initialised with a NULL key, which makes OpenSSL restart from
 * the stored inner/outer pads. Measured on OpenSSL 3.0 for a 38-byte body: HMAC-SHA256 via
 * EVP_MAC_CTX_dup per frame ~480 ns, re-init ~195 ns (sha1 500/195, md5 580/290). The
 * price is that a tb_key is single-threaded (sharing one context between threads corrupted
 * MACs, DESIGN.md §9): each thread makes its own, which the Python Keyring does. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "twinbeat_wire.h"
#include "tb_internal.h"

static const char *digest_name(int method)
{
    switch (method) {
    case TB_METHOD_SHA256: return "SHA256";
    case TB_METHOD_SHA1: return "SHA1";
    case TB_METHOD_MD5: return "MD5";
    default: return NULL;
    }
}

static size_t truncated_len(int method)
{
    switch (method) {
    case TB_METHOD_SHA256: return TB_MAC_LEN_SHA256;
    case TB_METHOD_SHA1: return TB_MAC_LEN_SHA1;
    case TB_METHOD_MD5: return TB_MAC_LEN_MD5;
    default: return TB_MAC_LEN_CRC;
    }
}

int tb_key_init(tb_key *key, int method, const uint8_t *key_bytes, size_t key_len)
{
    key->method = method;
    key->mac_len = truncated_len(method);
    key->mac_ctx = NULL;
    key->work_ctx = NULL;
    if (method == TB_METHOD_CRC)
        return TB_OK;
    const char *digest = digest_name(method);
    /* OpenSSL refuses an empty HMAC key, and heartbeat's authkeys never has one. */
    if (digest == NULL || key_bytes == NULL || key_len == 0)
        return TB_ERR_ARG;

    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL)
        return TB_ERR_CRYPTO;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac); /* the context keeps its own reference */
    if (ctx == NULL)
        return TB_ERR_CRYPTO;
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_MAC_CTX *work = NULL;
    if (!EVP_MAC_init(ctx, key_bytes, key_len, params) || (work = EVP_MAC_CTX_dup(ctx)) == NULL) {
        EVP_MAC_CTX_free(ctx);
        return TB_ERR_CRYPTO;
    }
    key->mac_ctx = ctx;
    key->work_ctx = work;
    return TB_OK;
}

void tb_key_free(tb_key *key)
{
    /* NULL-safe: crc keys and failed inits have no contexts */
    EVP_MAC_CTX_free(key->work_ctx);
    EVP_MAC_CTX_free(key->mac_ctx);
    key->work_ctx = NULL;
    key->mac_ctx = NULL;
}

int tb_full_mac(tb_key *key, const uint8_t *data, size_t len, uint8_t out[TB_FULL_MAC_MAX],
                size_t *out_len)
{
    if (key->method == TB_METHOD_CRC) {
        tb_put_u32(out, tb_crc32(0, data, len));
        *out_len = TB_MAC_LEN_CRC;
        return TB_OK;
    }
    EVP_MAC_CTX *ctx = key->work_ctx;
    if (ctx == NULL)
        return TB_ERR_ARG;
    /* A NULL key keeps the one given to tb_key_init and resets the running digest. */
    int ok = EVP_MAC_init(ctx, NULL, 0, NULL) && EVP_MAC_update(ctx, data, len)
             && EVP_MAC_final(ctx, out, out_len, TB_FULL_MAC_MAX);
    return ok ? TB_OK : TB_ERR_CRYPTO;
}

int tb_mac(tb_key *key, const uint8_t *data, size_t len, uint8_t *out, size_t out_cap)
{
    uint8_t mac[TB_FULL_MAC_MAX];
    size_t mac_len = 0;
    int rc = tb_full_mac(key, data, len, mac, &mac_len);
    if (rc != TB_OK)
        return rc;
    if (out_cap < mac_len)
        return TB_ERR_ARG;
    memcpy(out, mac, mac_len);
    return (int)mac_len;
}

int tb_mac_matches(tb_key *key, const uint8_t *data, size_t len, const uint8_t *mac)
{
    uint8_t expect[TB_FULL_MAC_MAX];
    size_t expect_len = 0;
    int rc = tb_full_mac(key, data, len, expect, &expect_len);
    if (rc != TB_OK)
        return rc;
    /* Constant time, so a forger learns nothing from how fast a guess is refused. */
    return CRYPTO_memcmp(expect, mac, key->mac_len) == 0 ? TB_OK : TB_ERR_MAC;
}

uint32_t tb_crc32(uint32_t crc, const uint8_t *data, size_t len)
{
    /* Reflected polynomial 0xEDB88320, four bits at a time: a 16-entry read-only table keeps
     * the code small (frames are at most 256 bytes) without any mutable state. */
    static const uint32_t nibble[16] = {
        0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4,
        0x4DB26158, 0x5005713C, 0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C,
        0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C,
    };
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        crc = (crc >> 4) ^ nibble[crc & 0x0F];
        crc = (crc >> 4) ^ nibble[crc & 0x0F];
    }
    return ~crc;
}

/* -- heartbeat 3.0.6's digests (reference §2.2; docs/protocol.md §heartbeat 3.0.6 messages) --
 *
 * heartbeat writes its digest as text: lower-case hex of the whole HMAC-MD5 or HMAC-SHA1
 * (keyed with the authkeys token's bytes, as here), or of its own crc, which is not the
 * reflected CRC-32 above: polynomial 0x04C11DB7 fed MSB first from 0, the result inverted,
 * printed with %lx (no leading zeros). The golden vectors in tests/unit/wire check all
 * three against captures of a real heartbeat 3.0.6. */

uint32_t tb_hb_crc_update(uint32_t crc, const uint8_t *data, size_t len)
{
    /* MSB-first polynomial 0x04C11DB7, four bits at a time (the same trade as tb_crc32). */
    static const uint32_t nibble[16] = {
        0x00000000, 0x04C11DB7, 0x09823B6E, 0x0D4326D9, 0x130476DC, 0x17C56B6B,
        0x1A864DB2, 0x1E475005, 0x2608EDB8, 0x22C9F00F, 0x2F8AD6D6, 0x2B4BCB61,
        0x350C9B64, 0x31CD86D3, 0x3C8EA00A, 0x384FBDBD,
    };
    for (size_t i = 0; i < len; i++) {
        crc = (crc << 4) ^ nibble[(crc >> 28) ^ (data[i] >> 4)];
        crc = (crc << 4) ^ nibble[(crc >> 28) ^ (data[i] & 0x0F)];
    }
    return crc;
}

uint32_t tb_hb_crc(const uint8_t *data, size_t len)
{
    return ~tb_hb_crc_update(0, data, len);
}

int tb_run_begin(tb_mac_run *run, tb_key *key)
{
    run->key = key;
    run->crc = 0;
    run->failed = 0;
    if (key->method == TB_METHOD_CRC)
        return TB_OK;
    if (key->method != TB_METHOD_MD5 && key->method != TB_METHOD_SHA1)
        return TB_ERR_KEY; /* heartbeat has no sha256 plugin */
    if (key->work_ctx == NULL || !EVP_MAC_init(key->work_ctx, NULL, 0, NULL))
        return TB_ERR_CRYPTO;
    return TB_OK;
}

void tb_run_update(tb_mac_run *run, const uint8_t *data, size_t len)
{
    if (run->key->method == TB_METHOD_CRC)
        run->crc = tb_hb_crc_update(run->crc, data, len);
    else if (len > 0 && !EVP_MAC_update(run->key->work_ctx, data, len))
        run->failed = 1; /* reported by tb_run_hex: the caller fails closed */
}

static int hex_of(const uint8_t *bytes, size_t n, uint8_t *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = (uint8_t)digits[bytes[i] >> 4];
        hex[2 * i + 1] = (uint8_t)digits[bytes[i] & 0x0F];
    }
    return (int)(2 * n);
}

int tb_run_hex(tb_mac_run *run, uint8_t hex[TB_HB_MAX_DIGEST])
{
    if (run->key->method == TB_METHOD_CRC) {
        uint32_t crc = ~run->crc;
        uint8_t be[4];
        tb_put_u32(be, crc);
        uint8_t full[8];
        hex_of(be, 4, full);
        size_t skip = 0; /* %lx: no leading zeros, but "0" for zero */
        while (skip < 7 && full[skip] == '0')
            skip++;
        memcpy(hex, full + skip, 8 - skip);
        return (int)(8 - skip);
    }
    uint8_t mac[TB_FULL_MAC_MAX];
    size_t mac_len = 0;
    if (run->failed || !EVP_MAC_final(run->key->work_ctx, mac, &mac_len, TB_FULL_MAC_MAX)
        || mac_len * 2 > TB_HB_MAX_DIGEST)
        return TB_ERR_CRYPTO;
    return hex_of(mac, mac_len, hex);
}

int tb_hb_digest(tb_key *key, const uint8_t *data, size_t len, uint8_t *out, size_t out_cap)
{
    if (out_cap < TB_HB_MAX_DIGEST)
        return TB_ERR_ARG;
    tb_mac_run run;
    int rc = tb_run_begin(&run, key);
    if (rc != TB_OK)
        return rc == TB_ERR_KEY ? TB_ERR_ARG : rc;
    tb_run_update(&run, data, len);
    return tb_run_hex(&run, out);
}
