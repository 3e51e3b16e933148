/* twinbeat wire codec (docs/protocol.md): the single source of truth for the frame's
 * constants, the error codes and the C prototypes.
 *
 * The cffi builder (src/twinbeat/wire/_build.py) derives its cdef from the text between the
 * TB_CDEF_BEGIN and TB_CDEF_END markers by dropping preprocessor lines other than
 * "#define TB_<NAME> <integer>", so everything inside the markers must be plain C that cffi
 * can parse: no macros with expressions, no OpenSSL types except as opaque struct pointers.
 * The Python facade builds its reason table from the TB_ERR_* names found here, so a new
 * error code needs no second list.
 *
 * Rules for the code behind this header: caller-owned buffers, no malloc, no mutable
 * globals, no I/O, no Python.h. The only heap memory is OpenSSL's own EVP_MAC_CTX, made in
 * tb_key_init and released by tb_key_free. */
#ifndef TWINBEAT_WIRE_H
#define TWINBEAT_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* TB_CDEF_BEGIN */

#define TB_WIRE_VERSION 1
#define TB_MAGIC0 84
#define TB_MAGIC1 66
#define TB_TYPE_STATUS 1

#define TB_MAX_FRAME 256
#define TB_MAX_NAME 64
#define TB_MAX_GROUPS 64
#define TB_MAX_KEYS 16
#define TB_MAX_MAC 20
/* magic(2) version(1) type(1) key(1) name length(1) */
#define TB_HEAD_LEN 6
/* fingerprint generation sequence timestamp echo (4 each) echo delay(2) link state flags G */
#define TB_FIXED_LEN 26
/* head + 1-byte name + fixed + no groups + 4-byte crc: nothing shorter can be a frame */
#define TB_MIN_FRAME 37
/* COBS adds one byte per 254 data bytes (at least one), plus the 0x00 delimiter */
#define TB_COBS_MAX 260

/* MAC methods (authkeys: sha1, md5, crc; sha256 is twinbeat's addition). */
#define TB_METHOD_CRC 0
#define TB_METHOD_SHA256 1
#define TB_METHOD_SHA1 2
#define TB_METHOD_MD5 3
#define TB_MAC_LEN_CRC 4
#define TB_MAC_LEN_SHA256 16
#define TB_MAC_LEN_SHA1 20
#define TB_MAC_LEN_MD5 16

/* Error codes: negative return values. The facade maps TB_ERR_<NAME> to the WireError
 * reason "<name>" (lower case), so the names are part of the Python API. */
#define TB_OK 0
#define TB_ERR_OVERSIZE -1
#define TB_ERR_LENGTH -2
#define TB_ERR_MAGIC -3
#define TB_ERR_VERSION -4
#define TB_ERR_KEY -5
#define TB_ERR_MAC -6
#define TB_ERR_FIELD -7
/* Not frame rejections: misuse of the C API (bad method, output buffer too small) and
 * OpenSSL failures. The facade turns them into ValueError / RuntimeError. */
#define TB_ERR_ARG -8
#define TB_ERR_CRYPTO -9
/* Deframer only: bytes between delimiters that are not valid COBS. */
#define TB_ERR_GARBAGE -10

/* A prepared key: one authkeys slot. mac_ctx is keyed once in tb_key_init and never
 * written again; work_ctx is its copy, re-initialised for every frame. That is ~2.5x
 * cheaper than duplicating mac_ctx per frame (docs/protocol.md §Implementation notes) but
 * makes a tb_key single-threaded: threads that sign or verify concurrently each need their
 * own tb_key_init (twinbeat.wire.Keyring keeps one set per thread). */
typedef struct tb_key {
    int method;
    size_t mac_len;
    struct evp_mac_ctx_st *mac_ctx;
    struct evp_mac_ctx_st *work_ctx;
} tb_key;

/* A decoded frame. name is not NUL-terminated: name_len bytes are valid. */
typedef struct tb_frame {
    uint8_t key_index;
    uint8_t name_len;
    uint8_t name[64];
    uint32_t fingerprint;
    uint32_t generation;
    uint32_t sequence;
    uint32_t timestamp_ms;
    uint32_t echo_ms;
    uint16_t echo_delay_ms;
    uint8_t link_id;
    uint8_t node_state;
    uint8_t node_flags;
    uint8_t group_count;
    uint8_t groups[64];
} tb_frame;

/* Serial stream state. buf holds the COBS bytes of the frame in progress; a frame that
 * outgrows it is skipped up to the next 0x00 (discarding = 1), never buffered. The counters
 * only grow; the facade shows them as Deframer.stats. */
typedef struct tb_deframer {
    uint8_t buf[260];
    size_t len;
    int discarding;
    uint64_t frames;
    uint64_t dropped_garbage;
    uint64_t dropped_oversize;
} tb_deframer;

int tb_wire_version(void);

/* Prepare key for method; key/key_len are ignored for TB_METHOD_CRC. Returns TB_OK,
 * TB_ERR_ARG (unknown method, empty HMAC key) or TB_ERR_CRYPTO. */
int tb_key_init(tb_key *key, int method, const uint8_t *key_bytes, size_t key_len);
void tb_key_free(tb_key *key);

/* Full-length MAC of data (32/20/16 bytes for HMAC, 4 for crc) into out; returns its length
 * or a negative error. Used by the known-answer tests; frames use the truncated form. */
int tb_mac(tb_key *key, const uint8_t *data, size_t len, uint8_t *out, size_t out_cap);

/* Build and sign one status frame into out. Returns its length, TB_ERR_FIELD for a field
 * out of range (name length or characters, group count), TB_ERR_ARG when out_cap is too
 * small or the key index is over 15, or TB_ERR_CRYPTO. */
int tb_encode(tb_key *key, uint8_t key_index, const uint8_t *name, size_t name_len,
              uint32_t fingerprint, uint32_t generation, uint32_t sequence,
              uint32_t timestamp_ms, uint32_t echo_ms, uint16_t echo_delay_ms,
              uint8_t link_id, uint8_t node_state, uint8_t node_flags,
              const uint8_t *groups, size_t group_count, uint8_t *out, size_t out_cap);

/* Check and parse one frame from an untrusted peer. keys has TB_MAX_KEYS entries indexed by
 * the frame's key index; NULL means that slot is not configured. Every non-NULL slot
 * verifies, so the caller must not pass a slot weaker than the one it signs with
 * (docs/protocol.md §Keys: twinbeat.wire.Keyring refuses a crc slot beside a keyed active
 * slot, where anyone could forge a frame by naming the crc slot). Returns TB_OK or a
 * TB_ERR_* rejection; out is only written on TB_OK. out may be NULL: the Python facade
 * only needs the verdict and reads the (now checked) fields with one struct.unpack. */
int tb_decode(const uint8_t *buf, size_t len, tb_key *const *keys, tb_frame *out);

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32) of data, starting from crc (0 at first). */
uint32_t tb_crc32(uint32_t crc, const uint8_t *data, size_t len);

/* COBS-encode in and append the 0x00 delimiter. Returns the length written or TB_ERR_ARG. */
int tb_cobs_frame(const uint8_t *in, size_t len, uint8_t *out, size_t out_cap);
/* Decode COBS bytes (without the delimiter). Returns the decoded length, TB_ERR_GARBAGE for
 * bytes that are not COBS, or TB_ERR_ARG when out is too small. */
int tb_cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t out_cap);

void tb_deframer_init(tb_deframer *d);
/* Consume input, writing each completed frame (COBS-decoded) to out back to back and its end
 * offset to ends[]. Stops when in is used up, when max_frames frames are out, or when out
 * has less than TB_COBS_MAX bytes of room left; *consumed says how much of in was used, so
 * callers loop until it is all consumed. Dropped frames are only counted in d. Returns the
 * number of frames written, or TB_ERR_ARG for out_cap < TB_COBS_MAX or max_frames == 0.
 * Many frames per call because a cffi call costs more than deframing one status frame. */
int tb_deframe(tb_deframer *d, const uint8_t *in, size_t len, size_t *consumed,
               uint8_t *out, size_t out_cap, uint32_t *ends, size_t max_frames);

/* TB_CDEF_END */

#endif
