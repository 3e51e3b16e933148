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
/* heartbeat 3.0.6 messages only: the structure is broken (netstring lengths, line or end
 * markers, the auth trailer or field, bytes after the end). Field contents are TB_ERR_FIELD. */
#define TB_ERR_SYNTAX -11

/* heartbeat 3.0.6 messages (docs/protocol.md §heartbeat 3.0.6 messages). heartbeat itself
 * allows 256 KiB; its haresources-mode messages are a few hundred bytes, so 4 KiB bounds
 * everything (decoding, the serial deframer, MAC work per message) with room to spare. */
#define TB_HB_MAX_MSG 4096
#define TB_HB_MAX_FIELDS 64
/* A field name, without the "(t)" type prefix; heartbeat's own are at most 12 bytes. */
#define TB_HB_MAX_NAME 64
/* Lower-case hex of the longest digest (sha1); heartbeat's auth strings carry it. */
#define TB_HB_MAX_DIGEST 40
/* The two encodings: netstring ("###\n" ... "%%%\n" + auth trailer; heartbeat's UDP form)
 * and classic text (">>>\n" ... "<<<\n"; its serial form). */
#define TB_HB_FORM_NETSTRING 1
#define TB_HB_FORM_CLASSIC 2
/* Field types: heartbeat's FT_STRING and FT_BINARY, the only ones haresources mode sends. */
#define TB_HB_STRING 0
#define TB_HB_BINARY 1
/* Room tb_deframe needs in out for one more message: a classic text message or a frame. */
#define TB_DEFRAME_ROOM 4096

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

/* Serial stream state (docs/protocol.md §Serial links). The line carries COBS frames ended
 * by 0x00 and heartbeat's classic text messages (">>>\n" ... "<<<\n", no 0x00 in them);
 * text is recognised by its start marker at the beginning of a line. buf holds the COBS
 * bytes (at most a maximal frame's) or the text (at most TB_HB_MAX_MSG) of the message in
 * progress; anything longer is skipped to its end (discarding = 1), never buffered.
 * m_start and m_end count the bytes of "\n>>>\n" and "\n<<<\n" matched so far; run counts
 * the bytes other than "\n" since the last boundary. The counters only grow (Deframer.stats). */
typedef struct tb_deframer {
    uint8_t buf[4096];
    size_t len;
    int text;
    int discarding;
    uint32_t run;
    uint8_t m_start;
    uint8_t m_end;
    uint64_t frames;
    uint64_t classic;
    uint64_t dropped_garbage;
    uint64_t dropped_oversize;
} tb_deframer;

/* One field of a heartbeat message: name and value are offsets into a byte buffer (the
 * message's data when decoded, the caller's when encoding). type is TB_HB_STRING or
 * TB_HB_BINARY. Values are as heartbeat holds them in memory: binary decoded from base64,
 * "\n" restored from the classic form's 0x13. */
typedef struct tb_hb_field {
    uint16_t name_off;
    uint16_t name_len;
    uint16_t value_off;
    uint16_t value_len;
    uint8_t type;
} tb_hb_field;

/* A decoded heartbeat message: the fields in wire order (including an "auth" field, if it
 * was sent) over data, and the authkeys slot whose digest verified. */
typedef struct tb_hb_msg {
    int form;
    int key_index;
    uint32_t field_count;
    tb_hb_field fields[64];
    uint8_t data[4096];
} tb_hb_msg;

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
/* Consume input, writing each completed frame (COBS-decoded) or classic text message (from
 * ">>>\n" to "<<<\n" inclusive, as received) to out back to back and its end offset to
 * ends[]. Stops when in is used up, when max_frames are out, or when out has less than
 * TB_DEFRAME_ROOM bytes of room left; *consumed says how much of in was used, so callers
 * loop until it is all consumed. Dropped input is only counted in d. Returns the number of
 * messages written, or TB_ERR_ARG for out_cap < TB_DEFRAME_ROOM or max_frames == 0.
 * Many frames per call because a cffi call costs more than deframing one status frame. */
int tb_deframe(tb_deframer *d, const uint8_t *in, size_t len, size_t *consumed,
               uint8_t *out, size_t out_cap, uint32_t *ends, size_t max_frames);

/* heartbeat 3.0.6 messages (csrc/tb_hb.c, tb_hb_encode.c; docs/protocol.md §heartbeat 3.0.6
 * messages). Check and parse one message from an untrusted peer, either form, verifying its
 * digest with the slot it names (netstring: the trailer; classic: the auth field). keys as
 * for tb_decode; a slot whose method heartbeat does not have (sha256) is TB_ERR_KEY.
 * Returns TB_OK or TB_ERR_OVERSIZE, _MAGIC, _SYNTAX, _FIELD, _KEY, _MAC; out's contents mean
 * nothing unless TB_OK. */
int tb_hb_decode(const uint8_t *buf, size_t len, tb_key *const *keys, tb_hb_msg *out);
/* Build one message signed with key (slot key_index) in form: the fields in order, with the
 * classic auth field's value computed and set in place if the fields have one, else
 * appended (classic form always; netstring only when inner_auth, as heartbeat does with
 * its default msgfmt classic), then the netstring trailer. Returns the length, TB_ERR_FIELD
 * (a field heartbeat could not carry or read back), TB_ERR_OVERSIZE (over TB_HB_MAX_MSG),
 * TB_ERR_ARG (bad form or method, out too small) or TB_ERR_CRYPTO. */
int tb_hb_encode(tb_key *key, uint8_t key_index, int form, int inner_auth,
                 const uint8_t *data, size_t data_len, const tb_hb_field *fields, size_t count,
                 uint8_t *out, size_t out_cap);
/* heartbeat's digest of data as the text it puts on the wire: lower-case hex of HMAC-MD5 or
 * HMAC-SHA1, or of its crc (without leading zeros). Returns the number of characters
 * written to out (no NUL), TB_ERR_ARG (sha256, out_cap < TB_HB_MAX_DIGEST) or an error. */
int tb_hb_digest(tb_key *key, const uint8_t *data, size_t len, uint8_t *out, size_t out_cap);
/* heartbeat's crc: CRC-32 with polynomial 0x04C11DB7, MSB first, initial value 0, result
 * inverted (CRC-32/POSIX without cksum's length suffix). Not tb_crc32: that one is
 * reflected. */
uint32_t tb_hb_crc(const uint8_t *data, size_t len);

/* TB_CDEF_END */

#endif
