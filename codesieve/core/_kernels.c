/* Compiled per-document byte scans for the rules gate (codesieve.filters.rules.features
 * and .general) and the quality scorers' line features (codesieve.scorers.lines).
 *
 * One pass over the UTF-8 bytes of a batch gives, per document, a 256-bin byte histogram,
 * the number of whitespace-separated words and the number of U+FFFD characters. numpy can
 * only get there with one gather + reduceat per character class (~30 MB/s on this
 * project's machine); this runs at memory speed. The numpy code in features.py is the
 * reference; tests/test_kernels.py compares the two on real documents.
 *
 * Built by `pip install -e .` (setup.py); optional: without a C compiler the numpy path runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static int check(Py_buffer *b, Py_ssize_t itemsize, Py_ssize_t min_len, const char *what) {
    if (b->len % itemsize != 0 || b->len / itemsize < min_len) {
        PyErr_Format(PyExc_ValueError, "byte_scan: %s has the wrong size", what);
        return -1;
    }
    return 0;
}

/* 0 when every segment [o[i], o[i+1]) lies inside data[0:len] and none runs backwards;
 * else -1 with a ValueError naming the kernel `fn`. */
static int check_offsets(const int64_t *o, Py_ssize_t n, Py_ssize_t len, const char *fn) {
    for (Py_ssize_t i = 0; i < n; i++) {
        if (o[i] < 0 || o[i + 1] < o[i] || o[i + 1] > len) {
            PyErr_Format(PyExc_ValueError, "%s: offsets out of range", fn);
            return -1;
        }
    }
    return 0;
}

/* Release the buffers a kernel parsed (NULL: none), then return its `result`. */
static PyObject *release(PyObject *result, Py_buffer *a, Py_buffer *b, Py_buffer *c, Py_buffer *d, Py_buffer *e) {
    Py_buffer *all[] = {a, b, c, d, e};
    for (int k = 0; k < 5; k++)
        if (all[k] != NULL)
            PyBuffer_Release(all[k]);
    return result;
}

/* The number of segments `off` (int64[n + 1]) cuts `data` into, checked; -1 with a
 * ValueError naming the kernel `fn` when `off` is malformed. */
static Py_ssize_t segments(Py_buffer *data, Py_buffer *off, const char *fn) {
    if (check(off, 8, 1, "offsets"))
        return -1;
    Py_ssize_t n = off->len / 8 - 1;
    return check_offsets((const int64_t *)off->buf, n, data->len, fn) ? -1 : n;
}

/* byte_scan(data, offsets, space, hist, extra)
 *   data    uint8[total]          the documents' UTF-8 bytes, back to back
 *   offsets int64[n + 1]          document i owns data[offsets[i]:offsets[i+1]]
 *   space   uint8[256]            1 for the bytes that separate words
 *   hist    int64[n * 256]  (out) hist[i*256 + b] = occurrences of byte b in document i
 *   extra   int64[n * 2]    (out) [words, U+FFFD characters] of document i
 * A word starts at a non-space byte that opens the document or follows a space byte.
 */
static PyObject *byte_scan(PyObject *self, PyObject *args) {
    Py_buffer data, off, space, hist, extra;
    if (!PyArg_ParseTuple(args, "y*y*y*w*w*", &data, &off, &space, &hist, &extra))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = segments(&data, &off, "byte_scan");
    if (n < 0 || check(&space, 1, 256, "space") || check(&hist, 8, n * 256, "hist") || check(&extra, 8, n * 2, "extra"))
        goto done;
    const uint8_t *d = (const uint8_t *)data.buf;
    const int64_t *o = (const int64_t *)off.buf;
    const uint8_t *sp = (const uint8_t *)space.buf;
    int64_t *h = (int64_t *)hist.buf;
    int64_t *x = (int64_t *)extra.buf;
    Py_BEGIN_ALLOW_THREADS
    memset(h, 0, (size_t)n * 256 * sizeof(int64_t));
    uint32_t sub[4][256]; /* four interleaved histograms: repeated bytes do not wait on one counter */
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t *hi = h + i * 256;
        int64_t words = 0, fffd = 0;
        int prev_space = 1;
        const int64_t end = o[i + 1];
        int64_t j = o[i];
        if (end - j >= 1024) {
            while (j + 4 <= end) {
                const int64_t stop = j + (((end - j) < (1LL << 30) ? (end - j) : (1LL << 30)) & ~3LL);
                memset(sub, 0, sizeof sub);
                for (; j < stop; j += 4) {
                    const uint8_t b0 = d[j], b1 = d[j + 1], b2 = d[j + 2], b3 = d[j + 3];
                    sub[0][b0]++;
                    sub[1][b1]++;
                    sub[2][b2]++;
                    sub[3][b3]++;
                    const int s0 = sp[b0], s1 = sp[b1], s2 = sp[b2], s3 = sp[b3];
                    words += ((!s0) & prev_space) + ((!s1) & s0) + ((!s2) & s1) + ((!s3) & s2);
                    prev_space = s3;
                    if ((b0 == 0xEF) | (b1 == 0xEF) | (b2 == 0xEF) | (b3 == 0xEF))
                        for (int64_t k = j; k < j + 4; k++)
                            fffd += d[k] == 0xEF && k + 2 < end && d[k + 1] == 0xBF && d[k + 2] == 0xBD;
                }
                for (int b = 0; b < 256; b++)
                    hi[b] += (int64_t)sub[0][b] + sub[1][b] + sub[2][b] + sub[3][b];
            }
        }
        for (; j < end; j++) {
            const uint8_t b = d[j];
            const int s = sp[b];
            hi[b]++;
            words += (!s) & prev_space;
            prev_space = s;
            if (b == 0xEF && j + 2 < end && d[j + 1] == 0xBF && d[j + 2] == 0xBD)
                fffd++;
        }
        x[2 * i] = words;
        x[2 * i + 1] = fffd;
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    return release(result, &data, &off, &space, &hist, &extra);
}

/* segment_or(data, offsets, lut, out)
 *   data    uint8[total]; offsets int64[n + 1] (segment i = data[offsets[i]:offsets[i+1]])
 *   lut     uint8[256]; out uint8[n] (out): OR of lut[b] over the bytes b of segment i
 * E.g. per line: "has a non-space byte", "has an ASCII letter or digit", "has non-ASCII".
 */
static PyObject *segment_or(PyObject *self, PyObject *args) {
    Py_buffer data, off, lut, out;
    if (!PyArg_ParseTuple(args, "y*y*y*w*", &data, &off, &lut, &out))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = segments(&data, &off, "segment_or");
    if (n < 0 || check(&lut, 1, 256, "lut") || check(&out, 1, n, "out"))
        goto done;
    const uint8_t *d = (const uint8_t *)data.buf;
    const int64_t *o = (const int64_t *)off.buf;
    const uint8_t *l = (const uint8_t *)lut.buf;
    uint8_t *r = (uint8_t *)out.buf;
    uint8_t asc = 0, all = 0; /* every bit an ASCII byte / any byte can add */
    for (int c = 0; c < 256; c++) {
        asc |= c < 128 ? l[c] : 0;
        all |= l[c];
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        uint8_t acc = 0;
        int64_t j = o[i];
        const int64_t end = o[i + 1];
        for (; j < end && (acc & asc) != asc; j++)
            acc |= l[d[j]];
        /* the ASCII bits are all set: only non-ASCII bytes can add more (8 at a time) */
        while (j < end && acc != all) {
            uint64_t x = 0;
            if (j + 8 <= end)
                memcpy(&x, d + j, 8);
            if (j + 8 <= end && !(x & 0x8080808080808080ULL)) {
                j += 8;
                continue;
            }
            acc |= l[d[j]];
            j++;
        }
        r[i] = acc;
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    return release(result, &data, &off, &lut, &out, NULL);
}

static inline int is_word(uint8_t b) { /* RE2's \w and \b: ASCII letters, digits, '_' */
    return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b == '_';
}

static inline int is_hex(uint8_t b) {
    return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
}

/* hex_words(data, offsets, out)
 *   data uint8[total]; offsets int64[n + 1]; out int64[n] (out)
 * out[i] = bytes (= code points: all ASCII) of document i inside matches of the RE2 pattern
 * \b0[xX][0-9a-fA-F]+\b (the `hex_word_fraction` rule). A match starts at a '0' that opens
 * the document or follows a non-word byte, and its hex run must end the document or be
 * followed by a non-word byte (a shorter run would end before a hex digit: no boundary).
 */
static PyObject *hex_words(PyObject *self, PyObject *args) {
    Py_buffer data, off, out;
    if (!PyArg_ParseTuple(args, "y*y*w*", &data, &off, &out))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = segments(&data, &off, "hex_words");
    if (n < 0 || check(&out, 8, n, "out"))
        goto done;
    const uint8_t *d = (const uint8_t *)data.buf;
    const int64_t *o = (const int64_t *)off.buf;
    int64_t *r = (int64_t *)out.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t total = 0;
        const int64_t start = o[i], end = o[i + 1];
        int64_t j = start;
        while (j < end) {
            const void *hit = memchr(d + j, '0', (size_t)(end - j));
            if (hit == NULL)
                break;
            j = (const uint8_t *)hit - d;
            if ((j > start && is_word(d[j - 1])) || j + 2 >= end || (d[j + 1] | 0x20) != 'x' || !is_hex(d[j + 2])) {
                j++;
                continue;
            }
            int64_t k = j + 2;
            while (k < end && is_hex(d[k]))
                k++;
            if (k == end || !is_word(d[k]))
                total += k - j;
            j = k; /* a match ends here; without one, no '0' inside the run can start a match */
        }
        r[i] = total;
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    return release(result, &data, &off, &out, NULL, NULL);
}

static inline uint64_t mix64(uint64_t x) { /* splitmix64's finalizer */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* The hash of `segment_hash`: 8-byte words folded through mix64 in two independent chains
 * (even and odd words of each 16 bytes: twice the instruction-level parallelism of one
 * chain), the length included; *any = the OR of all words read (its high bits: non-ASCII). */
static inline uint64_t hash_bytes_any(const uint8_t *p, int64_t len, uint64_t *any) {
    uint64_t h = mix64((uint64_t)len * 0x9E3779B97F4A7C15ULL), g = h ^ 0xD6E8FEB86659FD93ULL, w, v, acc = 0;
    for (; len >= 16; len -= 16, p += 16) {
        memcpy(&w, p, 8);
        memcpy(&v, p + 8, 8);
        acc |= w | v;
        h = mix64(h ^ w);
        g = mix64(g ^ v);
    }
    if (len >= 8) {
        memcpy(&w, p, 8);
        acc |= w;
        h = mix64(h ^ w);
        p += 8;
        len -= 8;
    }
    w = 0;
    memcpy(&w, p, (size_t)len);
    *any = acc | w;
    return mix64(h ^ w ^ ((uint64_t)len << 56) ^ mix64(g + 0x9E3779B97F4A7C15ULL));
}

static inline uint64_t hash_bytes(const uint8_t *p, int64_t len) {
    uint64_t any;
    return hash_bytes_any(p, len, &any);
}

/* segment_hash(data, offsets, out)
 *   data uint8[total]; offsets int64[n + 1]; out uint64[n] (out): a 64-bit hash of the bytes
 *   of segment i (`hash_bytes`: 8-byte words folded through splitmix64's finalizer, length included), so
 *   equal segments get equal hashes and distinct ones collide with probability ~2^-64.
 */
static PyObject *segment_hash(PyObject *self, PyObject *args) {
    Py_buffer data, off, out;
    if (!PyArg_ParseTuple(args, "y*y*w*", &data, &off, &out))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = segments(&data, &off, "segment_hash");
    if (n < 0 || check(&out, 8, n, "out"))
        goto done;
    const uint8_t *d = (const uint8_t *)data.buf;
    const int64_t *o = (const int64_t *)off.buf;
    uint64_t *r = (uint64_t *)out.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++)
        r[i] = hash_bytes(d + o[i], o[i + 1] - o[i]);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    return release(result, &data, &off, &out, NULL, NULL);
}

/* line_scan(data, offsets, out)
 *   data    uint8[total]; offsets int64[n + 1] (line i = data[offsets[i]:offsets[i+1]], no '\n' inside)
 *   out     int32[n * 11] (out), per line (the quality scorer's structure features, scorers/lines.py):
 *     0 lead   leading bytes in RE2's \s ([\t\n\f\r ])
 *     1 head   the first 4 bytes after `lead`, big-endian, zero-padded past the line end
 *     2 indent leading bytes in Arrow's ASCII whitespace ([\t\n\v\f\r\x1c-\x1f ])
 *     3 first  the byte after `indent` (-1: none)
 *     4 last   the last byte not in that whitespace set (-1: none)
 *     5 depth  opening minus closing brackets ( [ {  ) ] }
 *     6 slash  byte offset of the first "//" (-1: none)
 *     7 hash   byte offset of the first " # " (-1: none)
 *     8 paren  '(' minus ')';  9 square  '[' minus ']';  10 brackets  all six bracket bytes
 * Lines longer than 2**31 - 1 bytes are refused (ValueError).
 */
static const uint8_t ARROW_WS[32] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0,
                                     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1};
/* Per byte, one table entry: the six bracket bytes each count in their own 10-bit lane
 * ( ) [ ] { } at bits 0, 10, ..., 50. Lanes are emptied every LANE_FLUSH bytes, before they
 * can overflow. */
#define LANE(k) (1ULL << (10 * (k)))
#define LANE_FLUSH 1023
static const uint64_t LINE_LANES[256] = {['('] = LANE(0), [')'] = LANE(1), ['['] = LANE(2), [']'] = LANE(3),
                                         ['{'] = LANE(4), ['}'] = LANE(5)};

#define IS_ARROW_WS(b) ((b) == ' ' || ((b) < 32 && ARROW_WS[b]))
#define IS_RE2_SPACE(b) ((b) == ' ' || (b) == '\t' || (b) == '\n' || (b) == '\f' || (b) == '\r')

static PyObject *line_scan(PyObject *self, PyObject *args) {
    Py_buffer buf[3]; /* data, offsets, out */
    if (!PyArg_ParseTuple(args, "y*y*w*", &buf[0], &buf[1], &buf[2]))
        return NULL;
    PyObject *result = NULL;
    const Py_ssize_t n = segments(&buf[0], &buf[1], "line_scan");
    if (n < 0 || check(&buf[2], 4, n * 11, "out"))
        goto done;
    const uint8_t *d = (const uint8_t *)buf[0].buf;
    const int64_t *o = (const int64_t *)buf[1].buf;
    int32_t *r = (int32_t *)buf[2].buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (o[i + 1] - o[i] > INT32_MAX) {
            PyErr_SetString(PyExc_ValueError, "line_scan: a line is longer than 2**31 - 1 bytes");
            goto done;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        const uint8_t *s = d + o[i];
        const int32_t len = (int32_t)(o[i + 1] - o[i]);
        int32_t *f = r + 11 * i;
        int32_t lead = 0, indent = 0, depth = 0, paren = 0, square = 0, brackets = 0, slash = -1, hash = -1, last = -1;
        while (lead < len && IS_RE2_SPACE(s[lead]))
            lead++;
        uint32_t head = 0;
        for (int k = 0; k < 4; k++)
            head = (head << 8) | (lead + k < len ? s[lead + k] : 0);
        while (indent < len && IS_ARROW_WS(s[indent]))
            indent++;
        int32_t count[6] = {0, 0, 0, 0, 0, 0};
        for (int32_t from = 0; from < len; from += LANE_FLUSH) {
            const int32_t to = len - from < LANE_FLUSH ? len : from + LANE_FLUSH;
            uint64_t acc = 0;
            for (int32_t j = from; j < to; j++)
                acc += LINE_LANES[s[j]];
            for (int k = 0; k < 6; k++)
                count[k] += (int32_t)((acc >> (10 * k)) & 1023);
        }
        for (const uint8_t *p = s; (p = memchr(p, '/', (size_t)(s + len - p))) != NULL && p + 1 < s + len; p++) {
            if (p[1] == '/') {
                slash = (int32_t)(p - s);
                break;
            }
        }
        for (const uint8_t *p = s; (p = memchr(p, '#', (size_t)(s + len - p))) != NULL && p + 1 < s + len; p++) {
            if (p > s && p[-1] == ' ' && p[1] == ' ') {
                hash = (int32_t)(p - s - 1);
                break;
            }
        }
        paren = count[0] - count[1];
        square = count[2] - count[3];
        depth = paren + square + count[4] - count[5];
        brackets = count[0] + count[1] + count[2] + count[3] + count[4] + count[5];
        for (int32_t j = len - 1; j >= 0; j--) {
            if (!IS_ARROW_WS(s[j])) {
                last = s[j];
                break;
            }
        }
        f[0] = lead;
        f[1] = (int32_t)head;
        f[2] = indent;
        f[3] = indent < len ? s[indent] : -1;
        f[4] = last;
        f[5] = depth;
        f[6] = slash;
        f[7] = hash;
        f[8] = paren;
        f[9] = square;
        f[10] = brackets;
    }
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    return release(result, &buf[0], &buf[1], &buf[2], NULL, NULL);
}

/* the language-id token stream's newline token, " \u2424 " in UTF-8 */
static const char NL_TOKEN[5] = {' ', '\xe2', '\x90', '\xa4', ' '};

/* The length of the UTF-8 sequence starting at s[j] (before end), its code point in *cp; 1, with
 * *cp untouched, for an ASCII byte or a byte that starts no valid sequence. */
static inline int tsb_len(const uint8_t *s, int64_t j, int64_t end, uint32_t *cp) {
    const uint8_t b = s[j];
    int k = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
    if (k == 1 || j + k > end)
        return 1;
    uint32_t c = b & (0x7F >> k);
    for (int t = 1; t < k; t++) {
        if ((s[j + t] & 0xC0) != 0x80)
            return 1;
        c = (c << 6) | (s[j + t] & 0x3F);
    }
    *cp = c;
    return k;
}

/* The unit of `split_tokens` at d[j] (j < end): its length in bytes, and in *pad whether it is
 * set off with spaces. utf8 = 0: every byte is a unit, padded when p[byte]. utf8 = 1: ASCII
 * bytes as before; a UTF-8 sequence is one unit, padded when p[code point] (<= U+FFFF), and
 * *astral is set for a code point above U+FFFF; a byte that starts no valid sequence is a unit. */
static inline int token_unit(const uint8_t *d, int64_t j, int64_t end, const uint8_t *p, int utf8, int *pad,
                             uint8_t *astral) {
    uint32_t cp = d[j];
    if (!utf8 || cp < 0x80) {
        *pad = p[cp] != 0;
        return 1;
    }
    cp = 0;
    const int k = tsb_len(d, j, end, &cp);
    *astral |= cp > 0xFFFF;
    *pad = k > 1 && cp <= 0xFFFF && p[cp];
    return k;
}

/* The two passes of `token_split` / `token_split_bmp` over n documents: out_offsets oo, then
 * the bytes (a new bytes object, or NULL with an exception); astral: uint8[n] (out) when utf8. */
static inline __attribute__((always_inline)) PyObject *split_tokens(
    const uint8_t *d, const int64_t *o, Py_ssize_t n, const uint8_t *p, int utf8, int64_t *oo, uint8_t *astral, int end) {
    /* inlined into both callers with `utf8` a constant, so the byte loop of `token_split` keeps no UTF-8 branch */
    uint8_t unused = 0;
    int64_t total = 0;
    int pad;
    oo[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint8_t *ast = utf8 ? &astral[i] : &unused;
        *ast = 0;
        for (int64_t j = o[i]; j < o[i + 1]; j++) {
            const uint8_t b = d[j];
            if (b == '\n' || (b == '\r' && j + 1 < o[i + 1] && d[j + 1] == '\n')) {
                total += 5;
                j += b == '\r';
            } else {
                const int k = token_unit(d, j, o[i + 1], p, utf8, &pad, ast);
                total += k + 2 * pad;
                j += k - 1;
            }
        }
        total += end >= 0;
        oo[i + 1] = total;
    }
    PyObject *result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)total);
    if (result == NULL)
        return NULL;
    char *w = PyBytes_AS_STRING(result);
    for (Py_ssize_t i = 0; i < n; i++) {
        for (int64_t j = o[i]; j < o[i + 1]; j++) {
            const uint8_t b = d[j];
            if (b == '\n' || (b == '\r' && j + 1 < o[i + 1] && d[j + 1] == '\n')) {
                memcpy(w, NL_TOKEN, 5);
                w += 5;
                j += b == '\r';
                continue;
            }
            const int k = token_unit(d, j, o[i + 1], p, utf8, &pad, &unused);
            if (k == 1 && !pad) {
                *w++ = (char)b;
                continue;
            }
            if (pad)
                *w++ = ' ';
            memcpy(w, d + j, (size_t)k);
            w += k;
            if (pad)
                *w++ = ' ';
            j += k - 1;
        }
        if (end >= 0)
            *w++ = (char)end;
    }
    return result;
}

/* token_split(data, offsets, pad, out_offsets, end) -> bytes
 *   data    uint8[total]; offsets int64[n + 1] (document i = data[offsets[i]:offsets[i+1]])
 *   pad     uint8[256]: 1 for the bytes to set off with a space on each side
 *   out_offsets int64[n + 1] (out): document i of the result = result[out_offsets[i]:out_offsets[i+1]]
 *   end     a byte (0..255) appended to every document, or -1 for none
 * Every "\n" or "\r\n" becomes " \u2424 " (the language-id token stream's newline token), every
 * `pad` byte b becomes " b ", other bytes stay: the two RE2 replaces of
 * codesieve.filters.langid.content.prepare for ASCII text (scorers/text.py is the caller).
 */
static PyObject *token_split(PyObject *self, PyObject *args) {
    Py_buffer buf[4]; /* data, offsets, pad, out_offsets */
    int end = -1;
    if (!PyArg_ParseTuple(args, "y*y*y*w*i", &buf[0], &buf[1], &buf[2], &buf[3], &end))
        return NULL;
    PyObject *result = NULL;
    const Py_ssize_t n = segments(&buf[0], &buf[1], "token_split");
    if (n < 0 || check(&buf[2], 1, 256, "pad") || check(&buf[3], 8, n + 1, "out_offsets"))
        goto done;
    if (end < -1 || end > 255) {
        PyErr_SetString(PyExc_ValueError, "token_split: end must be -1 or a byte");
        goto done;
    }
    result = split_tokens((const uint8_t *)buf[0].buf, (const int64_t *)buf[1].buf, n, (const uint8_t *)buf[2].buf, 0,
                          (int64_t *)buf[3].buf, NULL, end);
done:
    return release(result, &buf[0], &buf[1], &buf[2], &buf[3], NULL);
}

/* ---- comment_text: comments of source code by a small lexer (NL detection) ----------------
 * The comment text codesieve.filters.langid.natural gives to the natural-language detector:
 * each document's comments in source order joined by "\n", stopping after the comment that
 * brings the text to `max_cp` code points (the detector reads no further). Strings are
 * skipped so that a `#` or `//` inside one is no comment. A lexer, not a parser: it is
 * checked against tree-sitter's comment nodes (benchmarks/nl_comments.py) and is equal to
 * the pure-Python reference natural._comments_lexed (tests/test_comments.py). */
enum {
    CM_SLASH = 1,      /* `//` line and slash-star block comments */
    CM_NEST = 2,       /* block comments nest (Rust) */
    CM_HASH = 4,       /* `#` line comments */
    CM_DASH = 8,       /* `--` line comments (Lua, Haskell) */
    CM_HASKELL = 16,   /* `{- -}` nested blocks, `{-# #-}` pragmas, haddock and operator rules */
    CM_LUA = 32,       /* `--[[ ]]` long comments, `[[ ]]` long strings */
    CM_TRIPLE = 64,    /* triple-quoted strings */
    CM_BTICK = 128,    /* backtick strings with escapes (JS/TS templates) */
    CM_SHELL = 256,    /* `#` only at a word start, raw '...', heredocs */
    CM_PHP = 512,      /* code only inside <?php ... ?>; `#[` is an attribute */
    CM_RUBY = 1024,    /* =begin/=end blocks, ?# */
    CM_MLSTR = 2048,   /* quoted strings may span lines */
    CM_CHARQ = 4096,   /* ' opens a char literal only if it closes right after ('x', '\n') */
    CM_VERBATIM = 8192,/* C# @"..." ("" inside) */
    CM_RAWSTR = 16384, /* Rust r#"..."# */
    CM_CONT = 32768,   /* `//` comments continue after a trailing backslash (C, C++) */
    CM_DOCNL = 65536,  /* Rust: ///, //! comments keep their newline */
    CM_BTRAW = 131072, /* backtick raw strings without escapes (Go) */
};

typedef struct {
    const uint8_t *s;
    Py_ssize_t n;
    char *out;
    Py_ssize_t len, cp, max_cp;
    int any;
} CommentOut;

/* Append s[a:b] (after a "\n" unless first); 1 once `max_cp` code points are out. */
static int cm_emit(CommentOut *w, Py_ssize_t a, Py_ssize_t b) {
    if (w->any) {
        w->out[w->len++] = '\n';
        w->cp++;
    }
    w->any = 1;
    for (Py_ssize_t k = a; k < b; k++) {
        const uint8_t c = w->s[k];
        w->out[w->len++] = (char)c;
        w->cp += (c & 0xC0) != 0x80;
    }
    return w->cp >= w->max_cp;
}

static inline int cm_ident(uint8_t c) { return c >= 0x80 || c == '_' || (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z'); }

static inline int cm_hs_symbol(uint8_t c) { return c && strchr("!#$%&*+./<=>?@\\^|-~:", c) != NULL; }

static Py_ssize_t cm_eol(const uint8_t *s, Py_ssize_t i, Py_ssize_t n) {
    const uint8_t *p = i < n ? memchr(s + i, '\n', (size_t)(n - i)) : NULL;
    return p ? p - s : n;
}

/* Index of the first `a` `b` pair at or after i, or -1. */
static Py_ssize_t cm_find2(const uint8_t *s, Py_ssize_t i, Py_ssize_t n, uint8_t a, uint8_t b) {
    for (; i + 1 < n; i++) {
        const uint8_t *p = memchr(s + i, a, (size_t)(n - 1 - i));
        if (p == NULL)
            return -1;
        i = p - s;
        if (s[i + 1] == b)
            return i;
    }
    return -1;
}

/* End of a string opened by quote s[i]: after the closing quote, at the newline ending an
 * unterminated single-line string, or n. */
static Py_ssize_t cm_quoted(const uint8_t *s, Py_ssize_t i, Py_ssize_t n, uint8_t q, int esc, int ml) {
    for (i++; i < n; i++) {
        const uint8_t c = s[i];
        if (c == '\\' && esc)
            i++;
        else if (c == q)
            return i + 1;
        else if (c == '\n' && !ml)
            return i;
    }
    return n;
}

static Py_ssize_t cm_triple(const uint8_t *s, Py_ssize_t i, Py_ssize_t n, uint8_t q) {
    for (i += 3; i < n; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == q && i + 2 < n && s[i + 1] == q && s[i + 2] == q)
            return i + 3;
    }
    return n;
}

/* End of a block comment opened at i by `open` (2 bytes) and closed by `close`, nesting if
 * asked; -1 when it does not close. */
static Py_ssize_t cm_block(const uint8_t *s, Py_ssize_t i, Py_ssize_t n, const char *open, const char *close, int nest) {
    int depth = 1;
    for (i += 2; i + 1 < n; i++) {
        if (s[i] == close[0] && s[i + 1] == close[1]) {
            if (--depth == 0)
                return i + 2;
            i++;
        } else if (nest && s[i] == open[0] && s[i + 1] == open[1]) {
            depth++;
            i++;
        }
    }
    return -1;
}

/* Lua long bracket at s[i] == '[': its level (number of '=') or -1 when none. */
static int cm_lua_level(const uint8_t *s, Py_ssize_t i, Py_ssize_t n) {
    Py_ssize_t j = i + 1;
    while (j < n && s[j] == '=')
        j++;
    return j < n && s[j] == '[' ? (int)(j - i - 1) : -1;
}

/* End of a Lua long bracket of `level` opened at i, or -1. */
static Py_ssize_t cm_lua_close(const uint8_t *s, Py_ssize_t i, Py_ssize_t n, int level) {
    for (i += level + 2; i < n; i++) {
        if (s[i] != ']')
            continue;
        Py_ssize_t j = i + 1;
        while (j < n && s[j] == '=')
            j++;
        if (j < n && s[j] == ']' && j - i - 1 == level)
            return j + 1;
    }
    return -1;
}

/* A char literal at s[i] == '\'' (CM_CHARQ): its end, or i + 1 when it is a prime/lifetime. */
static Py_ssize_t cm_charq(const uint8_t *s, Py_ssize_t i, Py_ssize_t n) {
    if (i + 1 < n && s[i + 1] == '\\') {
        for (Py_ssize_t j = i + 2; j < n && j < i + 12 && s[j] != '\n'; j++)
            if (s[j] == '\'')
                return j + 1;
        return i + 1;
    }
    Py_ssize_t j = i + 1;
    if (j < n && s[j] != '\'' && s[j] != '\n') {
        j++;
        while (j < n && (s[j] & 0xC0) == 0x80)
            j++;
        if (j < n && s[j] == '\'')
            return j + 1;
    }
    return i + 1;
}

/* Shell heredoc at s[i] == '<' (`<<WORD`, `<<-'WORD'`): sets *word / *wlen / *dash and
 * returns the index after the operator, or returns -1 when none. */
static Py_ssize_t cm_heredoc(const uint8_t *s, Py_ssize_t i, Py_ssize_t n, Py_ssize_t *word, Py_ssize_t *wlen, int *dash) {
    if (i + 2 >= n || s[i + 1] != '<' || s[i + 2] == '<')
        return -1;
    Py_ssize_t k = i + 2;
    *dash = s[k] == '-';
    k += *dash;
    while (k < n && (s[k] == ' ' || s[k] == '\t'))
        k++;
    const int quoted = k < n && (s[k] == '\'' || s[k] == '"');
    k += quoted;
    Py_ssize_t a = k;
    while (k < n && cm_ident(s[k]) && s[k] < 0x80)
        k++;
    if (k == a || (s[a] >= '0' && s[a] <= '9'))
        return -1;
    *word = a;
    *wlen = k - a;
    return k + quoted;
}

/* After the heredoc body that starts at line start i: index of the terminator line's end. */
static Py_ssize_t cm_heredoc_end(const uint8_t *s, Py_ssize_t i, Py_ssize_t n, Py_ssize_t word, Py_ssize_t wlen, int dash) {
    while (i < n) {
        Py_ssize_t e = cm_eol(s, i, n), a = i;
        while (dash && a < e && s[a] == '\t')
            a++;
        if (e - a == wlen && memcmp(s + a, s + word, (size_t)wlen) == 0)
            return e;
        i = e + 1;
    }
    return n;
}

/* Ruby: the end of a regex /.../ (where an operand starts: after `(,=~!|&;{[` or at a line
 * start) or of a percent literal %r{...} %w(...) %q[...] %(...) opened at s[i]; i when none. */
static Py_ssize_t cm_ruby_literal(const uint8_t *s, Py_ssize_t i, Py_ssize_t n) {
    Py_ssize_t p = i - 1;
    while (p >= 0 && (s[p] == ' ' || s[p] == '\t'))
        p--;
    const int operand = p < 0 || strchr("(,=~!|&;{[\n", s[p]) != NULL;
    if (s[i] == '/') {
        if (!operand || (i + 1 < n && (s[i + 1] == ' ' || s[i + 1] == '=')))
            return i;
        return cm_quoted(s, i, n, '/', 1, 0);
    }
    Py_ssize_t j = i + 1;
    if (j < n && strchr("qQwWiIrsx", s[j]) && s[j])
        j++;
    else if (!operand)
        return i;
    if (j >= n)
        return i;
    const uint8_t open = s[j];
    const char *pairs = "(){}[]<>";
    const char *pp = open ? strchr(pairs, open) : NULL;
    if (pp == NULL || (pp - pairs) % 2)
        return i;
    const uint8_t close = (uint8_t)pp[1];
    int depth = 1;
    for (j++; j < n; j++) {
        if (s[j] == '\\')
            j++;
        else if (s[j] == open)
            depth++;
        else if (s[j] == close && --depth == 0)
            return j + 1;
    }
    return n;
}

/* Comments of one document into w (see the section comment). */
static void cm_lex(CommentOut *w, unsigned f) {
    const uint8_t *s = w->s;
    const Py_ssize_t n = w->n;
    Py_ssize_t i = 0, hd_word = 0, hd_len = 0;
    int code = !(f & CM_PHP), hd_dash = 0;
    while (i < n) {
        if (!code) { /* PHP: HTML until <?php / <?= / <? */
            Py_ssize_t k = cm_find2(s, i, n, '<', '?');
            if (k < 0)
                return;
            i = k + 2;
            if (i + 2 < n && (s[i] | 32) == 'p' && (s[i + 1] | 32) == 'h' && (s[i + 2] | 32) == 'p')
                i += 3;
            code = 1;
            continue;
        }
        const uint8_t c = s[i];
        const uint8_t d = i + 1 < n ? s[i + 1] : 0;
        const uint8_t prev = i > 0 ? s[i - 1] : '\n';
        Py_ssize_t end = -1; /* a comment s[i:end] when >= 0 */
        if (c == '\n' && hd_len) {
            i = cm_heredoc_end(s, i + 1, n, hd_word, hd_len, hd_dash);
            hd_len = 0;
            continue;
        }
        if (c == '"') {
            if ((f & CM_TRIPLE) && d == '"' && i + 2 < n && s[i + 2] == '"')
                i = cm_triple(s, i, n, '"');
            else if ((f & CM_VERBATIM) && (prev == '@' || (prev == '$' && i > 1 && s[i - 2] == '@'))) {
                for (i++; i < n; i++)
                    if (s[i] == '"' && !(i + 1 < n && s[i + 1] == '"' && ++i))
                        break;
                i++;
            } else
                i = cm_quoted(s, i, n, '"', 1, (f & (CM_MLSTR | CM_SHELL)) != 0);
            continue;
        }
        if (c == '\'') {
            if ((f & CM_TRIPLE) && d == '\'' && i + 2 < n && s[i + 2] == '\'')
                i = cm_triple(s, i, n, '\'');
            else if (f & CM_SHELL)
                i = cm_quoted(s, i, n, '\'', 0, 1);
            else if (f & CM_CHARQ)
                i = cm_charq(s, i, n);
            else
                i = cm_quoted(s, i, n, '\'', 1, (f & CM_MLSTR) != 0);
            continue;
        }
        if (c == '`' && (f & (CM_BTICK | CM_BTRAW))) {
            i = cm_quoted(s, i, n, '`', (f & CM_BTICK) != 0, 1);
            continue;
        }
        if ((f & CM_SHELL) && c == '\\') {
            i += 2;
            continue;
        }
        if ((f & CM_SHELL) && c == '<' && !hd_len) {
            Py_ssize_t k = cm_heredoc(s, i, n, &hd_word, &hd_len, &hd_dash);
            i = k < 0 ? i + 1 : k;
            continue;
        }
        if ((f & CM_RAWSTR) && c == 'r' && (d == '#' || d == '"') && !(i > 0 && cm_ident(prev) && !(prev == 'b' && !(i > 1 && cm_ident(s[i - 2]))))) {
            Py_ssize_t j = i + 1;
            while (j < n && s[j] == '#')
                j++;
            if (j < n && s[j] == '"') {
                const Py_ssize_t hashes = j - i - 1;
                for (j++; j < n; j++) {
                    Py_ssize_t h = 0;
                    while (s[j] == '"' && h < hashes && j + 1 + h < n && s[j + 1 + h] == '#')
                        h++;
                    if (s[j] == '"' && h == hashes)
                        break;
                }
                i = j + 1 + hashes;
                continue;
            }
        }
        if ((f & CM_RUBY) && (c == '/' || c == '%')) {
            const Py_ssize_t k = cm_ruby_literal(s, i, n);
            if (k > i) {
                i = k;
                continue;
            }
        }
        if ((f & CM_PHP) && c == '?' && d == '>') {
            code = 0;
            i += 2;
            continue;
        }
        if ((f & CM_RUBY) && c == '=' && prev == '\n' && i + 6 <= n && memcmp(s + i, "=begin", 6) == 0 &&
            (i + 6 == n || s[i + 6] == ' ' || s[i + 6] == '\t' || s[i + 6] == '\n' || s[i + 6] == '\r')) {
            Py_ssize_t k = i;
            for (;;) {
                k = cm_eol(s, k, n);
                if (k >= n)
                    return; /* unterminated */
                k++;
                if (k + 4 <= n && memcmp(s + k, "=end", 4) == 0) {
                    end = cm_eol(s, k, n);
                    break;
                }
            }
        } else if ((f & CM_SLASH) && c == '/' && d == '/') {
            end = cm_eol(s, i, n);
            while ((f & CM_CONT) && end < n && end > i + 2 && (s[end - 1] == '\\' || (s[end - 1] == '\r' && s[end - 2] == '\\')))
                end = cm_eol(s, end + 1, n);
            if ((f & CM_DOCNL) && end < n && ((i + 2 < n && s[i + 2] == '!') || (i + 3 < n && s[i + 2] == '/' && s[i + 3] != '/')))
                end++;
        } else if ((f & CM_SLASH) && c == '/' && d == '*') {
            end = cm_block(s, i, n, "/*", "*/", (f & CM_NEST) != 0);
            if (end < 0)
                return;
        } else if ((f & CM_HASH) && c == '#') {
            if ((f & CM_SHELL) && !strchr(" \t\r\n;&|()", prev))
                end = -1;
            else if ((f & CM_PHP) && d == '[')
                end = -1;
            else if ((f & CM_RUBY) && (prev == '?' || d == '{'))
                end = -1; /* ?# is a character, #{ an interpolation */
            else
                end = cm_eol(s, i, n);
        } else if ((f & CM_LUA) && c == '-' && d == '-') {
            const int level = i + 2 < n && s[i + 2] == '[' ? cm_lua_level(s, i + 2, n) : -1;
            end = level < 0 ? cm_eol(s, i, n) : cm_lua_close(s, i + 2, n, level);
            if (end < 0)
                return;
        } else if ((f & CM_LUA) && c == '[' && (d == '[' || d == '=')) {
            const int level = cm_lua_level(s, i, n);
            if (level >= 0) {
                Py_ssize_t k = cm_lua_close(s, i, n, level);
                i = k < 0 ? n : k;
                continue;
            }
        } else if ((f & CM_HASKELL) && c == '-' && d == '-' && !cm_hs_symbol(prev)) {
            Py_ssize_t j = i + 2, k;
            while (j < n && s[j] == '-')
                j++;
            if (j < n && s[j] != '\n' && cm_hs_symbol(s[j])) {
                i = j; /* an operator such as --> */
                continue;
            }
            for (k = j; k < n && (s[k] == ' ' || s[k] == '\t');)
                k++;
            end = cm_eol(s, i, n);
            if (k < n && (s[k] == '|' || s[k] == '^')) { /* haddock: not a comment node */
                i = end;
                continue;
            }
        } else if ((f & CM_HASKELL) && c == '{' && d == '-') {
            if (i + 2 < n && s[i + 2] == '#') {
                Py_ssize_t k = cm_find2(s, i + 3, n, '#', '-');
                i = k < 0 ? n : k + 2;
                continue;
            }
            end = cm_block(s, i, n, "{-", "-}", 1);
            if (end < 0)
                return;
            Py_ssize_t k = i + 2;
            while (k < end && (s[k] == ' ' || s[k] == '\t'))
                k++;
            if (s[k] == '|' || s[k] == '^') { /* haddock block */
                i = end;
                continue;
            }
        }
        if ((f & CM_PHP) && end > i && (c == '#' || (c == '/' && d == '/'))) {
            Py_ssize_t k = cm_find2(s, i, end, '?', '>');
            if (k >= 0)
                end = k;
        }
        if (end < 0) {
            i++;
            continue;
        }
        if (cm_emit(w, i, end))
            return;
        i = end;
    }
}

/* comment_text(data, offsets, flags, max_cp) -> list[str]
 *   data    uint8[total]   the documents' UTF-8 bytes, back to back
 *   offsets int64[n + 1]   document i owns data[offsets[i]:offsets[i+1]]
 *   flags   uint32[n]      CM_* lexer flags of document i's language (0: no comments)
 *   max_cp  stop after the comment that brings the text to this many code points */
static PyObject *comment_text(PyObject *self, PyObject *args) {
    Py_buffer data, off, flags;
    Py_ssize_t max_cp;
    if (!PyArg_ParseTuple(args, "y*y*y*n", &data, &off, &flags, &max_cp))
        return NULL;
    PyObject *result = NULL;
    char *buf = NULL;
    const Py_ssize_t n = segments(&data, &off, "comment_text");
    if (n < 0 || check(&flags, 4, n, "flags"))
        goto done;
    const uint8_t *d = (const uint8_t *)data.buf;
    const int64_t *o = (const int64_t *)off.buf;
    const uint32_t *fl = (const uint32_t *)flags.buf;
    Py_ssize_t longest = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        longest = o[i + 1] - o[i] > longest ? o[i + 1] - o[i] : longest;
    buf = PyMem_Malloc((size_t)(2 * longest + 1)); /* comments + one separator each */
    if (buf == NULL || (result = PyList_New(n)) == NULL) {
        if (buf == NULL)
            PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        CommentOut w = {d + o[i], o[i + 1] - o[i], buf, 0, 0, max_cp, 0};
        if (fl[i])
            cm_lex(&w, fl[i]);
        PyObject *str = PyUnicode_DecodeUTF8(buf, w.len, "replace");
        if (str == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, i, str);
    }
done:
    PyMem_Free(buf);
    return release(result, &data, &off, &flags, NULL, NULL);
}

/* components(u, v, root): connected components of the undirected edges (u[k], v[k]) over
 * nodes 0..n-1 by union-find (union by smaller root, path halving);
 *   u, v    int64[m]     edge end points, each in [0, n)
 *   root    int64[n]     (out) the smallest node of node i's component
 * codesieve.filters.dedup.cluster.forest; scipy's connected_components is the reference
 * (tests/test_dedup.py). It replaces an import of scipy.sparse.csgraph (~0.3 CPU-s per process). */
static inline int64_t uf_find(int64_t *p, int64_t x) {
    while (p[x] != x) {
        p[x] = p[p[x]];
        x = p[x];
    }
    return x;
}

static PyObject *components(PyObject *self, PyObject *args) {
    Py_buffer u, v, root;
    if (!PyArg_ParseTuple(args, "y*y*w*", &u, &v, &root))
        return NULL;
    PyObject *result = NULL;
    if (check(&u, 8, 0, "u") || check(&v, 8, u.len / 8, "v") || check(&root, 8, 0, "root"))
        goto done;
    const Py_ssize_t m = u.len / 8, n = root.len / 8;
    const int64_t *a = (const int64_t *)u.buf, *b = (const int64_t *)v.buf;
    int64_t *p = (int64_t *)root.buf;
    for (Py_ssize_t k = 0; k < m; k++) {
        if (a[k] < 0 || a[k] >= n || b[k] < 0 || b[k] >= n) {
            PyErr_SetString(PyExc_ValueError, "components: node out of range");
            goto done;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++)
        p[i] = i;
    for (Py_ssize_t k = 0; k < m; k++) {
        const int64_t x = uf_find(p, a[k]), y = uf_find(p, b[k]);
        if (x < y)
            p[y] = x;
        else if (y < x)
            p[x] = y;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        p[i] = p[p[i]]; /* parents are smaller nodes, already final: one step each */
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    return release(result, &u, &v, &root, NULL, NULL);
}

/* ---- shared tokenization for dedup shingles and decontam n-grams (filters/dedup/shingles.py) ----
 * A token is a maximal run of bytes whose `table` entry has bit 31 set (word bytes), or one
 * byte with bit 30 set (a punctuation token); other bytes separate tokens. Its hash is
 * mix64((h | len << 32) ^ salt), h = sum(table[b_j] & 0x1FF) * P^j mod 2^32 over its bytes
 * (P = 0x01000193): the numpy reference `_token_hashes` computes the same from prefix sums.
 */
#define TOK_WORD 0x80000000u
#define TOK_PUNCT 0x40000000u
#define TOK_P 0x01000193u

/* The token hashes of the bytes d[j:end] into hs (at most cap of them): a word (a run of
 * TOK_WORD bytes) hashes its 9-bit values and length, a TOK_PUNCT byte alone; each is
 * mix64(value | length << 32 ^ salt). Returns the count, or -1 if there are more than cap. */
static int64_t token_hashes(const uint8_t *d, int64_t j, const int64_t end, const uint32_t *t, uint64_t salt,
                            uint64_t *hs, int64_t cap) {
    int64_t nt = 0;
    while (j < end) {
        uint32_t v = t[d[j]];
        if (v & TOK_WORD) {
            uint32_t h = 0, pw = 1;
            uint64_t len = 0;
            do {
                h += (v & 0x1FFu) * pw;
                pw *= TOK_P;
                len++;
            } while (++j < end && ((v = t[d[j]]) & TOK_WORD));
            if (nt == cap)
                return -1;
            hs[nt++] = mix64(((uint64_t)h | (len << 32)) ^ salt);
            continue;
        }
        if (v & TOK_PUNCT) {
            if (nt == cap)
                return -1;
            hs[nt++] = mix64(((uint64_t)(v & 0x1FFu) | (1ULL << 32)) ^ salt);
        }
        j++;
    }
    return nt;
}

/* The k-gram hashes of nt token hashes into w: mix64(S ^ k), S = sum over the window's tokens
 * of hash * B^(k-1-j) mod 2^64 (B = 0x9E3779B97F4A7C15, top = B^(k-1)); fewer than k tokens
 * (but some) make one window of them all. Returns the count: max(nt - k + 1, 0), or 1. */
static int64_t token_windows(const uint64_t *hs, int64_t nt, int k, uint64_t top, uint64_t *w) {
    uint64_t acc = 0;
    if (nt < k) {
        for (int64_t j = 0; j < nt; j++)
            acc = acc * 0x9E3779B97F4A7C15ULL + hs[j];
        if (nt)
            w[0] = mix64(acc ^ (uint64_t)k);
        return nt > 0;
    }
    for (int64_t j = 0; j < k; j++)
        acc = acc * 0x9E3779B97F4A7C15ULL + hs[j];
    w[0] = mix64(acc ^ (uint64_t)k);
    for (int64_t s = 1; s < nt - k + 1; s++) {
        acc = (acc - hs[s - 1] * top) * 0x9E3779B97F4A7C15ULL + hs[s + k - 1];
        w[s] = mix64(acc ^ (uint64_t)k);
    }
    return nt - k + 1;
}

static uint64_t window_top(int k) { /* B^(k-1): the rolling window drops its first token's term */
    uint64_t top = 1;
    for (int j = 1; j < k; j++)
        top *= 0x9E3779B97F4A7C15ULL;
    return top;
}

/* shingle_pack(data, offsets, table, (k, salt), out_offsets, out) -> int
 *   k        tokens per shingle; salt: uint64 xored into every token hash before mixing
 *   the `token_windows` of each document's `token_hashes`: document i's go to
 *   out[out_offsets[i]:out_offsets[i+1]] (out_offsets int64[n + 1], written here) and the total
 *   is returned; `out` (uint64) needs room for the total, which is at most the byte count
 *   (a document has at most one token per byte and at most one shingle per token).
 */
static PyObject *shingle_pack(PyObject *self, PyObject *args) {
    Py_buffer data, off, table, ooff, out;
    int k;
    unsigned long long salt;
    if (!PyArg_ParseTuple(args, "y*y*y*(iK)w*w*", &data, &off, &table, &k, &salt, &ooff, &out))
        return NULL;
    PyObject *result = NULL;
    uint64_t *hs = NULL;
    Py_ssize_t n = segments(&data, &off, "shingle_pack");
    if (n < 0 || check(&table, 4, 256, "table") || check(&ooff, 8, n + 1, "out_offsets") || check(&out, 8, 0, "out"))
        goto done;
    if (k < 1) {
        PyErr_SetString(PyExc_ValueError, "shingle_pack: k < 1");
        goto done;
    }
    const uint8_t *d = (const uint8_t *)data.buf;
    const int64_t *o = (const int64_t *)off.buf;
    const uint32_t *t = (const uint32_t *)table.buf;
    int64_t *oo = (int64_t *)ooff.buf;
    uint64_t *r = (uint64_t *)out.buf;
    const int64_t room = out.len / 8;
    int64_t cap = 1;
    for (Py_ssize_t i = 0; i < n; i++)
        cap = o[i + 1] - o[i] > cap ? o[i + 1] - o[i] : cap;
    hs = (uint64_t *)malloc(sizeof(uint64_t) * (size_t)cap);
    if (hs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int64_t pos = 0;
    int ok = 1;
    Py_BEGIN_ALLOW_THREADS
    const uint64_t top = window_top(k);
    oo[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const int64_t nt = token_hashes(d, o[i], o[i + 1], t, (uint64_t)salt, hs, cap);
        if (nt < 0 || pos + (nt >= k ? nt - k + 1 : nt > 0) > room) {
            ok = 0;
            break;
        }
        pos += token_windows(hs, nt, k, top, r + pos);
        oo[i + 1] = pos;
    }
    Py_END_ALLOW_THREADS
    if (ok)
        result = PyLong_FromLongLong(pos);
    else
        PyErr_SetString(PyExc_ValueError, "shingle_pack: out is too small");
done:
    free(hs);
    release(NULL, &ooff, NULL, NULL, NULL, NULL);
    return release(result, &data, &off, &table, &out, NULL);
}

/* shingle_hits(data, offsets, table, (k, salt, low_bits), low, members, out)
 *   the shingles of `shingle_pack`, never stored: out int32[n] (out) = how many of document
 *   i's shingles (with repeats) are in `members` (sorted unique uint64); `low` (uint8[2^low_bits])
 *   is nonzero at the low bits of every member, so most shingles cost one lookup.
 */
static PyObject *shingle_hits(PyObject *self, PyObject *args) {
    Py_buffer data, off, table, low, mem, out;
    int k, low_bits;
    unsigned long long salt;
    if (!PyArg_ParseTuple(args, "y*y*y*(iKi)y*y*w*", &data, &off, &table, &k, &salt, &low_bits, &low, &mem, &out))
        return NULL;
    PyObject *result = NULL;
    uint64_t *hs = NULL;
    Py_ssize_t n = segments(&data, &off, "shingle_hits");
    if (n < 0 || check(&table, 4, 256, "table") || check(&out, 4, n, "out") || check(&mem, 8, 0, "members"))
        goto done;
    if (k < 1 || low_bits < 1 || low_bits > 32 || check(&low, 1, (Py_ssize_t)1 << low_bits, "low")) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "shingle_hits: k < 1 or low_bits outside 1..32");
        goto done;
    }
    const uint8_t *d = (const uint8_t *)data.buf;
    const int64_t *o = (const int64_t *)off.buf;
    const uint32_t *t = (const uint32_t *)table.buf;
    const uint8_t *lo = (const uint8_t *)low.buf;
    const uint64_t *m = (const uint64_t *)mem.buf;
    const Py_ssize_t nm = mem.len / 8;
    const uint64_t mask = ((uint64_t)1 << low_bits) - 1;
    int32_t *r = (int32_t *)out.buf;
    int64_t cap = 1; /* a document has at most one token per byte */
    for (Py_ssize_t i = 0; i < n; i++)
        cap = o[i + 1] - o[i] > cap ? o[i + 1] - o[i] : cap;
    hs = (uint64_t *)malloc(sizeof(uint64_t) * 2 * (size_t)cap);
    if (hs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    const uint64_t top = window_top(k);
    uint64_t *w = hs + cap;
    for (Py_ssize_t i = 0; i < n; i++) {
        const int64_t nw = token_windows(hs, token_hashes(d, o[i], o[i + 1], t, (uint64_t)salt, hs, cap), k, top, w);
        int32_t hits = 0;
        for (int64_t s = 0; s < nw; s++) {
            const uint64_t x = w[s];
            if (!lo[x & mask])
                continue;
            Py_ssize_t a = 0, b = nm; /* first member >= x */
            while (a < b) {
                const Py_ssize_t c = a + (b - a) / 2;
                if (m[c] < x)
                    a = c + 1;
                else
                    b = c;
            }
            hits += a < nm && m[a] == x;
        }
        r[i] = hits;
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    free(hs);
    release(NULL, &low, &mem, NULL, NULL, NULL);
    return release(result, &data, &off, &table, &out, NULL);
}

static inline int is_num_tail(uint8_t b) { /* [0-9a-fA-FxX._] */
    return is_hex(b) || b == 'x' || b == 'X' || b == '.' || b == '_';
}

/* blank_numbers(data, offsets, out): out (uint8[total]) = data with every match of the RE2
 * pattern \b[0-9][0-9a-fA-FxX._]*\b overwritten with spaces, found as RE2's global replace
 * finds them (leftmost, the star greedy then backing off to the last word boundary; \b is
 * ASCII, document edges count as non-word). Same length, so the offsets stay valid.
 */
static PyObject *blank_numbers(PyObject *self, PyObject *args) {
    Py_buffer data, off, out;
    if (!PyArg_ParseTuple(args, "y*y*w*", &data, &off, &out))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = segments(&data, &off, "blank_numbers");
    if (n < 0 || check(&out, 1, data.len, "out"))
        goto done;
    const uint8_t *d = (const uint8_t *)data.buf;
    const int64_t *o = (const int64_t *)off.buf;
    uint8_t *r = (uint8_t *)out.buf;
    Py_BEGIN_ALLOW_THREADS
    memcpy(r, d, (size_t)data.len);
    for (Py_ssize_t i = 0; i < n; i++) {
        const int64_t a = o[i], b = o[i + 1];
        int64_t p = a;
        while (p < b) {
            if (!(d[p] >= '0' && d[p] <= '9') || (p > a && is_word(d[p - 1]))) {
                p++;
                continue;
            }
            int64_t e = p + 1; /* the star's longest reach */
            while (e < b && is_num_tail(d[e]))
                e++;
            int64_t q = e; /* back off to the last \b in (p, e] */
            while (q > p && is_word(d[q - 1]) == (q < b && is_word(d[q])))
                q--;
            if (q == p) { /* no boundary: every byte up to e is a word byte, none can start a match */
                p = e;
                continue;
            }
            memset(r + p, ' ', (size_t)(q - p));
            p = q;
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    return release(result, &data, &off, &out, NULL, NULL);
}

/* The segment holding p, searched forward from segment lo (o[lo] <= p < o[n]): the last
 * i >= lo with o[i] <= p, by galloping then bisecting (hits come in order: a few steps). */
static Py_ssize_t segment_from(const int64_t *o, Py_ssize_t n, Py_ssize_t lo, int64_t p) {
    Py_ssize_t step = 1, hi;
    while (lo + step < n && o[lo + step] <= p) {
        lo += step;
        step *= 2;
    }
    hi = lo + step < n ? lo + step - 1 : n - 1;
    while (lo < hi) {
        const Py_ssize_t mid = (lo + hi + 1) / 2;
        if (o[mid] <= p)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* A byte of `s` (length len) that memchr looks for: the last letter x, q, z, j, k, v, w, y, b, ...
 * found in it (rare in code first), else its last byte. */
static int64_t anchor_of(const uint8_t *s, int64_t len) {
    static const char *rare = "xqzjkvwybgfpmhdculnsroiate";
    for (const char *c = rare; *c; c++)
        for (int64_t k = len - 1; k >= 0; k--)
            if ((s[k] | 0x20) == *c)
                return k;
    return len - 1;
}

/* segment_find(data, offsets, needles, fold, out)
 *   needles  bytes: the literals, each ended by a 0 byte (lower-case when `fold`)
 *   fold     1: ASCII case-insensitive, and every segment holding a non-ASCII byte counts as
 *            a hit (RE2's (?i) folds e.g. U+212A KELVIN SIGN to 'k'); 2: ASCII
 *            case-insensitive only (needles without a letter that folds to non-ASCII);
 *            0: exact bytes
 *   out      uint8[n] (out): 1 when segment i contains one of the needles (see `fold`)
 * A prefilter: the caller runs the regex only on the segments marked 1. Each needle is
 * found by memchr on one of its bytes (both cases when folding) over all segments at once,
 * then checked in place and kept when it lies inside one segment.
 */
static PyObject *segment_find(PyObject *self, PyObject *args) {
    Py_buffer data, off, needles, out;
    int fold;
    if (!PyArg_ParseTuple(args, "y*y*y*iw*", &data, &off, &needles, &fold, &out))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = segments(&data, &off, "segment_find");
    if (n < 0 || check(&out, 1, n, "out"))
        goto done;
    const uint8_t *nd = (const uint8_t *)needles.buf;
    if (needles.len == 0 || nd[needles.len - 1] != 0) {
        PyErr_SetString(PyExc_ValueError, "segment_find: needles must each end with a 0 byte");
        goto done;
    }
    const uint8_t *d = (const uint8_t *)data.buf;
    const int64_t *o = (const int64_t *)off.buf;
    uint8_t *r = (uint8_t *)out.buf;
    memset(r, 0, (size_t)n);
    if (n == 0)
        goto ok;
    uint8_t low[256];
    for (int c = 0; c < 256; c++)
        low[c] = (uint8_t)(fold && c >= 'A' && c <= 'Z' ? c + 32 : c);
    const int64_t lo_b = o[0], hi_b = o[n];
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t a = 0, b = 0; b < needles.len; b++) {
        if (nd[b] != 0)
            continue;
        const uint8_t *q = nd + a;
        const int64_t len = b - a, at = anchor_of(q, len);
        a = b + 1;
        if (len == 0)
            continue;
        for (int variant = 0; variant < 1 + (fold && q[at] >= 'a' && q[at] <= 'z'); variant++) {
            const int c = variant ? q[at] - 32 : q[at];
            const uint8_t *p = d + lo_b + at, *stop = d + hi_b;
            Py_ssize_t seg = 0; /* hits come in order: the segment search resumes here */
            while (p < stop && (p = memchr(p, c, (size_t)(stop - p))) != NULL) {
                const int64_t s0 = (p - d) - at;
                p++;
                if (s0 < lo_b || s0 + len > hi_b)
                    continue;
                int64_t x = 0;
                while (x < len && low[d[s0 + x]] == q[x])
                    x++;
                if (x < len)
                    continue;
                seg = segment_from(o, n, seg, s0);
                if (s0 + len <= o[seg + 1]) {
                    r[seg] = 1;
                    if (d + o[seg + 1] + at > p) /* the segment is found: go on after it */
                        p = d + o[seg + 1] + at;
                }
            }
        }
    }
    if (fold == 1) { /* non-ASCII bytes: 8 at a time */
        int64_t j = lo_b;
        Py_ssize_t seg = 0;
        while (j < hi_b) {
            if (j + 8 <= hi_b) {
                uint64_t w;
                memcpy(&w, d + j, 8);
                if (!(w & 0x8080808080808080ULL)) {
                    j += 8;
                    continue;
                }
            }
            if (d[j] >= 128) {
                seg = segment_from(o, n, seg, j);
                r[seg] = 1;
                j = o[seg + 1];
                continue;
            }
            j++;
        }
    }
    Py_END_ALLOW_THREADS
ok:
    result = Py_NewRef(Py_None);
done:
    return release(result, &data, &off, &needles, &out, NULL);
}

/* encoded_runs(data, offsets, out_data, out_offsets, out_doc) -> (pieces, bytes)
 * The parts of each document where StarCoder2's three encoded-data patterns
 * (codesieve.filters.rules.starcoder2.ENCODED_PATTERNS) can match, for RE2 to search instead
 * of the whole text. Every byte of a match is in U = [A-Za-z0-9+/=,\\ \t\n\f\r], so a match
 * lies inside one maximal U-run; a run is kept when it holds 64 bytes in a row of
 * [a-zA-Z0-9+/\n=] (pattern 1), a stretch of [0-9a-fA-Fx\\,\t\n\f\r ] with 16 hex digits
 * (pattern 2: 8 two-digit units), or 48 bytes in a row of [\\u0-9a-fA-F] (pattern 3). A kept
 * run is copied with one byte of context on each side that stands for the byte next to it in
 * the document for \b ('_' for '_', else '!'; none at a document edge), so RE2 finds the same
 * matches in it as in the document. out_doc[k] = the document of piece k.
 */
#define ENC_U 1
#define ENC_P1 2
#define ENC_H 4
#define ENC_HEX 8
#define ENC_P3 16

static PyObject *encoded_runs(PyObject *self, PyObject *args) {
    Py_buffer data, off, od, oo, odoc;
    if (!PyArg_ParseTuple(args, "y*y*w*w*w*", &data, &off, &od, &oo, &odoc))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = segments(&data, &off, "encoded_runs");
    if (n < 0)
        goto done;
    uint8_t cls[256] = {0};
    for (int c = 0; c < 256; c++) {
        const int alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        const int hex = c < 128 && is_hex((uint8_t)c), space = IS_RE2_SPACE(c);
        cls[c] = (uint8_t)((alnum || space || c == '+' || c == '/' || c == '=' || c == ',' || c == '\\' ? ENC_U : 0) |
                           (alnum || c == '+' || c == '/' || c == '\n' || c == '=' ? ENC_P1 : 0) |
                           (hex || c == 'x' || c == '\\' || c == ',' || space ? ENC_H : 0) | (hex ? ENC_HEX : 0) |
                           (hex || c == '\\' || c == 'u' ? ENC_P3 : 0));
    }
    const uint8_t *d = (const uint8_t *)data.buf;
    const int64_t *o = (const int64_t *)off.buf;
    uint8_t *w = (uint8_t *)od.buf;
    int64_t *wo = (int64_t *)oo.buf, *wd = (int64_t *)odoc.buf;
    const int64_t cap_bytes = od.len, cap_pieces = oo.len / 8 - 1;
    if (odoc.len / 8 < cap_pieces || cap_pieces < 0) {
        PyErr_SetString(PyExc_ValueError, "encoded_runs: out_doc is shorter than out_offsets - 1");
        goto done;
    }
    int64_t np_ = 0, nb = 0;
    int full = 0;
    int64_t cap_runs = 64, *runs = (int64_t *)malloc(sizeof(int64_t) * 2 * (size_t)cap_runs);
    if (runs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    wo[0] = 0;
    for (Py_ssize_t i = 0; i < n && !full; i++) {
        const int64_t a = o[i], b = o[i + 1];
        int64_t nr = 0; /* U-runs to keep: (start, end) pairs, from the three scans */
        for (int pat = 0; pat < 3 && !full; pat++) {
            const uint8_t bit = pat == 0 ? ENC_P1 : pat == 1 ? ENC_P3 : ENC_H;
            const int64_t len = pat == 0 ? 64 : pat == 1 ? 48 : 16;
            int64_t p = a; /* d[p - 1] is not in the class (or p == a) */
            while (p + len <= b) {
                int64_t k = p + len - 1; /* the window [p, p + len): its last byte outside the class */
                while (k >= p && (cls[d[k]] & bit))
                    k--;
                if (k >= p) {
                    p = k + 1;
                    continue;
                }
                int64_t e = p + len, hex = 0; /* a run of >= len class bytes: [p, e) */
                while (e < b && (cls[d[e]] & bit))
                    e++;
                if (bit == ENC_H)
                    for (int64_t j = p; j < e && hex < 16; j++)
                        hex += (cls[d[j]] & ENC_HEX) != 0;
                if (bit != ENC_H || hex >= 16) { /* the pattern's run: keep the U-run around it */
                    int64_t start = p, end = e;
                    while (start > a && (cls[d[start - 1]] & ENC_U))
                        start--;
                    while (end < b && (cls[d[end]] & ENC_U))
                        end++;
                    if (nr == cap_runs) {
                        int64_t *more = (int64_t *)realloc(runs, sizeof(int64_t) * 4 * (size_t)cap_runs);
                        if (more == NULL) {
                            full = 2;
                            break;
                        }
                        runs = more;
                        cap_runs *= 2;
                    }
                    runs[2 * nr] = start;
                    runs[2 * nr + 1] = end;
                    nr++;
                    e = end; /* d[end] is outside U, so outside every class */
                }
                p = e + 1;
            }
        }
        for (int64_t x = 1; x < nr; x++) { /* sort by start (few runs per document) */
            const int64_t s0 = runs[2 * x], e0 = runs[2 * x + 1];
            int64_t y = x - 1;
            while (y >= 0 && runs[2 * y] > s0) {
                runs[2 * y + 2] = runs[2 * y];
                runs[2 * y + 3] = runs[2 * y + 1];
                y--;
            }
            runs[2 * y + 2] = s0;
            runs[2 * y + 3] = e0;
        }
        for (int64_t x = 0; x < nr && !full; x++) {
            const int64_t start = runs[2 * x], end = runs[2 * x + 1];
            if (x > 0 && start == runs[2 * x - 2]) /* found by several patterns: U-runs are equal or disjoint */
                continue;
            if (np_ >= cap_pieces || nb + (end - start) + 2 > cap_bytes) {
                full = 1;
                break;
            }
            if (start > a)
                w[nb++] = d[start - 1] == '_' ? '_' : '!';
            memcpy(w + nb, d + start, (size_t)(end - start));
            nb += end - start;
            if (end < b)
                w[nb++] = d[end] == '_' ? '_' : '!';
            wd[np_] = i;
            wo[++np_] = nb;
        }
    }
    Py_END_ALLOW_THREADS
    free(runs);
    if (full == 2) {
        PyErr_NoMemory();
        goto done;
    }
    if (full) {
        PyErr_SetString(PyExc_ValueError, "encoded_runs: output buffers too small");
        goto done;
    }
    result = Py_BuildValue("(LL)", (long long)np_, (long long)nb);
done:
    release(NULL, &oo, &odoc, NULL, NULL, NULL);
    return release(result, &data, &off, &od, NULL, NULL);
}

/* trimmed_hash(data, offsets, out, unsure)
 *   out    uint64[n] (out): `segment_hash` of segment i with Arrow's ASCII whitespace
 *          ([\t\n\v\f\r\x1c-\x1f ]) trimmed from both ends
 *   unsure uint8[n] (out): 1 when a non-ASCII byte borders the trimmed span: Arrow's
 *          utf8_trim_whitespace may trim more there (U+00A0, U+3000, ...); the caller
 *          recomputes those segments' hashes from Arrow's trim
 */
static PyObject *trimmed_hash(PyObject *self, PyObject *args) {
    Py_buffer data, off, out, unsure;
    if (!PyArg_ParseTuple(args, "y*y*w*w*", &data, &off, &out, &unsure))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = segments(&data, &off, "trimmed_hash");
    if (n < 0 || check(&out, 8, n, "out") || check(&unsure, 1, n, "unsure"))
        goto done;
    const uint8_t *d = (const uint8_t *)data.buf;
    const int64_t *o = (const int64_t *)off.buf;
    uint64_t *r = (uint64_t *)out.buf;
    uint8_t *u = (uint8_t *)unsure.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t a = o[i], b = o[i + 1];
        while (a < b && IS_ARROW_WS(d[a]))
            a++;
        while (b > a && IS_ARROW_WS(d[b - 1]))
            b--;
        u[i] = b > a && (d[a] >= 128 || d[b - 1] >= 128);
        r[i] = hash_bytes(d + a, b - a);
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    return release(result, &data, &off, &out, &unsure, NULL);
}

/* repeated_keys(keys, offsets, mask, out)
 *   keys uint64[m]; offsets int64[k + 1] cut them into groups (e.g. the lines of a document);
 *   mask uint8[m]: the keys that count; out uint8[m] (out): 1 for a counted key that another
 *   counted key of its group equals. One open-addressing table per group (linear time; a
 *   sort of all keys costs n log n).
 */
static PyObject *repeated_keys(PyObject *self, PyObject *args) {
    Py_buffer keys, off, mask, out;
    if (!PyArg_ParseTuple(args, "y*y*y*w*", &keys, &off, &mask, &out))
        return NULL;
    PyObject *result = NULL;
    uint64_t *tk = NULL;
    uint32_t *tc = NULL;
    const Py_ssize_t m = keys.len / 8;
    if (keys.len % 8 || check(&mask, 1, m, "mask") || check(&out, 1, m, "out") || check(&off, 8, 1, "offsets"))
        goto done;
    const Py_ssize_t k = off.len / 8 - 1;
    const int64_t *o = (const int64_t *)off.buf;
    if (check_offsets(o, k, m, "repeated_keys"))
        goto done;
    int64_t longest = 1;
    for (Py_ssize_t g = 0; g < k; g++)
        longest = o[g + 1] - o[g] > longest ? o[g + 1] - o[g] : longest;
    int64_t cap = 16;
    while (cap < 2 * longest)
        cap *= 2;
    tk = (uint64_t *)malloc(sizeof(uint64_t) * (size_t)cap);
    tc = (uint32_t *)calloc((size_t)cap, sizeof(uint32_t));
    if (tk == NULL || tc == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const uint64_t *kv = (const uint64_t *)keys.buf;
    const uint8_t *mk = (const uint8_t *)mask.buf;
    uint8_t *r = (uint8_t *)out.buf;
    Py_BEGIN_ALLOW_THREADS
    memset(r, 0, (size_t)m);
    for (Py_ssize_t g = 0; g < k; g++) {
        int64_t size = 16, used = 0;
        for (int64_t j = o[g]; j < o[g + 1]; j++)
            used += mk[j] != 0;
        if (used < 2)
            continue;
        while (size < 2 * used)
            size *= 2;
        const uint64_t bits = (uint64_t)size - 1;
        for (int pass = 0; pass < 2; pass++) { /* count, then read the counts */
            for (int64_t j = o[g]; j < o[g + 1]; j++) {
                if (!mk[j])
                    continue;
                uint64_t slot = mix64(kv[j]) & bits;
                while (tc[slot] && tk[slot] != kv[j])
                    slot = (slot + 1) & bits;
                if (pass == 0) {
                    tk[slot] = kv[j];
                    tc[slot]++;
                } else {
                    r[j] = tc[slot] > 1;
                }
            }
        }
        memset(tc, 0, sizeof(uint32_t) * (size_t)size);
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    free(tk);
    free(tc);
    return release(result, &keys, &off, &mask, &out, NULL);
}

/* ==== quality gate (q6): licence-header spans (quality, language id, dedup) and span gathering ===========================
 * license_spans(data, offsets, mode, out)
 *   out int64[n * 8] (out) per document, -1 where absent:
 *     mode 0: out[7] = end of `scorers.text._HEAD_COMMENT`'s match (the leading run of comment
 *             and blank lines), bytes from the document's start; -1: no match;
 *     mode 1: `filters.langid.content`'s `\A{_HEAD_KEEP}(?:{_HEAD_BLOCK})`: out[0] = end of
 *             group keep, [1:3) group first, [3:5) group end, [5:7) group line, out[7] = the
 *             match's end (-1: no match);
 *     mode 2: out[7] = end of `filters.dedup.license.HEADER`'s match (-1: no match).
 *   The RE2 patterns are the reference (tests/test_kernels_text.py compares on real files);
 *   the licence-word test stays in RE2 on the (short) matched headers.
 * gather_spans(data, spans, out_offsets) -> bytes
 *   spans int64[m * k * 2]: row r of the output is its k spans (a, b) joined: data[a:b] for
 *   a >= 0, the single byte -a - 1 for a < 0; out_offsets int64[m + 1] (out).
 */
static inline int lh_blank(uint8_t c) { return c == ' ' || c == '\t'; }
static inline int lh_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; } /* RE2 \s */

static inline int lh_has(const uint8_t *s, Py_ssize_t i, Py_ssize_t n, const char *lit) {
    size_t len = strlen(lit);
    return i <= n && (size_t)(n - i) >= len && memcmp(s + i, lit, len) == 0;
}

static inline Py_ssize_t lh_nl(const uint8_t *s, Py_ssize_t i, Py_ssize_t n) {
    const uint8_t *p = i < n ? memchr(s + i, '\n', (size_t)(n - i)) : NULL;
    return p ? p - s : -1;
}

static inline int lh_dnl(const uint8_t *s, Py_ssize_t q, Py_ssize_t n) { /* dnl\b */
    return lh_has(s, q, n, "dnl") && (q + 3 >= n || !is_word(s[q + 3]));
}

/* mode 0: ^(?:[ \t]*(?:#|//|/\*|\*|--|;|%|<!--|-->|dnl\b|\(\*)[^\n]*\n|[ \t]*\r?\n)+ */
static int64_t lh_strip_end(const uint8_t *s, Py_ssize_t n) {
    Py_ssize_t e = 0;
    for (;;) {
        Py_ssize_t q = e, next = -1;
        while (q < n && lh_blank(s[q]))
            q++;
        if (q < n) {
            uint8_t c = s[q], d = q + 1 < n ? s[q + 1] : 0;
            int st = c == '#' || c == '*' || c == ';' || c == '%' || (c == '/' && (d == '/' || d == '*')) ||
                     (c == '-' && d == '-') || lh_has(s, q, n, "<!--") || lh_dnl(s, q, n) || (c == '(' && d == '*');
            Py_ssize_t nl = st ? lh_nl(s, q, n) : -1;
            if (nl >= 0)
                next = nl + 1;
            else if (c == '\n')
                next = q + 1;
            else if (c == '\r' && d == '\n')
                next = q + 2;
        }
        if (next < 0)
            return e > 0 ? e : -1;
        e = next;
    }
}

/* length of (?:#[ \t#*=-]|//|--|;|%|dnl\b) at q, 0 when none */
static int lh_line_mark(const uint8_t *s, Py_ssize_t q, Py_ssize_t n) {
    if (q >= n)
        return 0;
    uint8_t c = s[q], d = q + 1 < n ? s[q + 1] : 0;
    if (c == '#')
        return d && strchr(" \t#*=-", d) ? 2 : 0;
    if ((c == '/' && d == '/') || (c == '-' && d == '-'))
        return 2;
    if (c == ';' || c == '%')
        return 1;
    return lh_dnl(s, q, n) ? 3 : 0;
}

/* first i >= from where `*` `/` (want & 1) or `-->` (want & 2) starts; -1 when none */
static Py_ssize_t lh_close(const uint8_t *s, Py_ssize_t i, Py_ssize_t n, int want) {
    for (; i + 1 < n; i++) {
        if ((want & 1) && s[i] == '*' && s[i + 1] == '/')
            return i;
        if ((want & 2) && s[i] == '-' && i + 2 < n && s[i + 1] == '-' && s[i + 2] == '>')
            return i;
    }
    return -1;
}

/* `_HEAD_BLOCK` at q: fills o[1..7], 1 on a match */
static int lh_block(const uint8_t *s, Py_ssize_t q, Py_ssize_t n, int64_t *o) {
    int op = lh_has(s, q, n, "/*") ? 2 : lh_has(s, q, n, "<!--") ? 4 : 0;
    Py_ssize_t k = op ? lh_close(s, q + op, n, 3) : -1, e, c2;
    if (k >= 0) { /* (/\*|<!--)(?s:.*?)(\*\/|-->)(?:\s*(?:/\*(?s:.*?)\*\/|<!--(?s:.*?)-->))* */
        e = k + (s[k] == '*' ? 2 : 3);
        o[1] = q, o[2] = q + op, o[3] = k, o[4] = e;
        for (;;) {
            Py_ssize_t r = e;
            while (r < n && lh_space(s[r]))
                r++;
            if (lh_has(s, r, n, "/*") && (c2 = lh_close(s, r + 2, n, 1)) >= 0)
                e = c2 + 2;
            else if (lh_has(s, r, n, "<!--") && (c2 = lh_close(s, r + 4, n, 2)) >= 0)
                e = c2 + 3;
            else
                break;
        }
        o[7] = e;
        return 1;
    }
    int mark = lh_line_mark(s, q, n); /* (LC[^\n]{0,60})[^\n]*\n(?:[ \t]*(?:LC[^\n]*|#)?\n)* */
    if (!mark)
        return 0;
    Py_ssize_t a = q + mark;
    for (int cp = 0; a < n && s[a] != '\n' && cp < 60; cp++)
        for (a++; a < n && (s[a] & 0xC0) == 0x80; a++)
            ;
    Py_ssize_t nl = lh_nl(s, a, n);
    if (nl < 0)
        return 0;
    o[5] = q, o[6] = a;
    for (e = nl + 1;;) {
        Py_ssize_t r = e, nx = -1;
        while (r < n && lh_blank(s[r]))
            r++;
        int m2 = lh_line_mark(s, r, n);
        Py_ssize_t nl2 = m2 ? lh_nl(s, r + m2, n) : -1;
        if (nl2 >= 0)
            nx = nl2 + 1;
        else if (r + 1 < n && s[r] == '#' && s[r + 1] == '\n')
            nx = r + 2;
        else if (r < n && s[r] == '\n')
            nx = r + 1;
        if (nx < 0)
            break;
        e = nx;
    }
    o[7] = e;
    return 1;
}

/* mode 1: \A\x{FEFF}?(?:#![^\n]*\n|<\?php[^\n]*\n|<\?xml[^\n]*\n)?\s*  then `_HEAD_BLOCK` */
static void lh_collapse(const uint8_t *s, Py_ssize_t n, int64_t *o) {
    Py_ssize_t p = lh_has(s, 0, n, "\xEF\xBB\xBF") ? 3 : 0;
    for (int take = 1; take >= 0; take--) {
        Py_ssize_t q = p;
        if (take) {
            Py_ssize_t nl = lh_nl(s, p, n);
            if (!(lh_has(s, p, n, "#!") || lh_has(s, p, n, "<?php") || lh_has(s, p, n, "<?xml")) || nl < 0)
                continue;
            q = nl + 1;
        }
        while (q < n && lh_space(s[q]))
            q++;
        for (int j = 0; j < 8; j++)
            o[j] = -1;
        o[0] = q;
        if (lh_block(s, q, n, o))
            return;
    }
    for (int j = 0; j < 8; j++)
        o[j] = -1;
}

/* first i >= from where the 3-byte `lit` starts; -1 when none */
static Py_ssize_t lh_find3(const uint8_t *s, Py_ssize_t i, Py_ssize_t n, const char *lit) {
    for (; i + 2 < n; i++)
        if (s[i] == (uint8_t)lit[0] && s[i + 1] == (uint8_t)lit[1] && s[i + 2] == (uint8_t)lit[2])
            return i;
    return -1;
}

/* mode 2 (`filters.dedup.license.HEADER`): \A(?:[ \t\r\n]*(?:(?:#|//|--|;|%)[^\n]*(?:\n|$)
 * |/\*(?s:.*?)\*\/[^\n]*(?:\n|$)|<!--(?s:.*?)-->|"""(?s:.*?)"""|'''(?s:.*?)'''))+ */
static int64_t lh_dedup_end(const uint8_t *s, Py_ssize_t n) {
    Py_ssize_t e = 0;
    for (;;) {
        Py_ssize_t q = e, next = -1, k, nl;
        while (q < n && (lh_blank(s[q]) || s[q] == '\r' || s[q] == '\n'))
            q++;
        uint8_t c = q < n ? s[q] : 0, d = q + 1 < n ? s[q + 1] : 0;
        if (q < n && (c == '#' || c == ';' || c == '%' || (c == '/' && d == '/') || (c == '-' && d == '-'))) {
            nl = lh_nl(s, q, n);
            next = nl >= 0 ? nl + 1 : n;
        } else if (c == '/' && d == '*' && (k = lh_close(s, q + 2, n, 1)) >= 0) {
            nl = lh_nl(s, k + 2, n);
            next = nl >= 0 ? nl + 1 : n;
        } else if (lh_has(s, q, n, "<!--") && (k = lh_close(s, q + 4, n, 2)) >= 0)
            next = k + 3;
        else if (lh_has(s, q, n, "\"\"\"") && (k = lh_find3(s, q + 3, n, "\"\"\"")) >= 0)
            next = k + 3;
        else if (lh_has(s, q, n, "'''") && (k = lh_find3(s, q + 3, n, "'''")) >= 0)
            next = k + 3;
        if (next < 0)
            return e > 0 ? e : -1;
        e = next;
    }
}

static PyObject *license_spans(PyObject *self, PyObject *args) {
    Py_buffer data, off, out;
    int mode;
    if (!PyArg_ParseTuple(args, "y*y*iw*", &data, &off, &mode, &out))
        return NULL;
    Py_ssize_t n = segments(&data, &off, "license_spans");
    if (n < 0 || check(&out, 8, n * 8, "out") || mode < 0 || mode > 2) {
        if (n >= 0 && !PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "license_spans: mode must be 0, 1 or 2");
        return release(NULL, &data, &off, &out, NULL, NULL);
    }
    const uint8_t *s = data.buf;
    const int64_t *o = off.buf;
    int64_t *r = out.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t *w = r + 8 * i;
        if (mode != 1) {
            for (int j = 0; j < 7; j++)
                w[j] = -1;
            w[7] = mode == 0 ? lh_strip_end(s + o[i], o[i + 1] - o[i]) : lh_dedup_end(s + o[i], o[i + 1] - o[i]);
        } else
            lh_collapse(s + o[i], o[i + 1] - o[i], w);
    }
    Py_END_ALLOW_THREADS
    return release(Py_NewRef(Py_None), &data, &off, &out, NULL, NULL);
}

static PyObject *gather_spans(PyObject *self, PyObject *args) {
    Py_buffer data, spans, off;
    if (!PyArg_ParseTuple(args, "y*y*w*", &data, &spans, &off))
        return NULL;
    if (check(&off, 8, 1, "out_offsets") || check(&spans, 16, 0, "spans"))
        return release(NULL, &data, &spans, &off, NULL, NULL);
    Py_ssize_t m = off.len / 8 - 1, ns = spans.len / 16, k = m ? ns / m : 0, total = 0;
    const int64_t *sp = spans.buf;
    if (m ? ns % m != 0 : ns != 0) {
        PyErr_SetString(PyExc_ValueError, "gather_spans: spans do not split into rows");
        return release(NULL, &data, &spans, &off, NULL, NULL);
    }
    for (Py_ssize_t j = 0; j < ns; j++) {
        int64_t a = sp[2 * j], b = sp[2 * j + 1];
        if (a < -256 || (a >= 0 && (b < a || b > data.len))) {
            PyErr_SetString(PyExc_ValueError, "gather_spans: span out of range");
            return release(NULL, &data, &spans, &off, NULL, NULL);
        }
        total += a < 0 ? 1 : b - a;
    }
    PyObject *result = PyBytes_FromStringAndSize(NULL, total);
    if (result == NULL)
        return release(NULL, &data, &spans, &off, NULL, NULL);
    uint8_t *w = (uint8_t *)PyBytes_AS_STRING(result);
    const uint8_t *s = data.buf;
    int64_t *oo = off.buf, pos = 0;
    oo[0] = 0;
    for (Py_ssize_t r = 0; r < m; r++) {
        for (Py_ssize_t j = r * k; j < (r + 1) * k; j++) {
            int64_t a = sp[2 * j], b = sp[2 * j + 1];
            if (a < 0)
                w[pos++] = (uint8_t)(-a - 1);
            else {
                memcpy(w + pos, s + a, (size_t)(b - a));
                pos += b - a;
            }
        }
        oo[r + 1] = pos;
    }
    return release(result, &data, &spans, &off, NULL, NULL);
}

#define QUALITY_METHODS                                                                                          \
    {"license_spans", license_spans, METH_VARARGS,                                                              \
     "license_spans(data, offsets, mode, out): licence-header spans (0: scorer strip, 1: langid collapse, 2: dedup)"}, \
    {"gather_spans", gather_spans, METH_VARARGS,                                                                \
     "gather_spans(data, spans, out_offsets) -> bytes: each row's spans joined (a < 0: the byte -a - 1)"},
/* ==== end of the quality gate (q6) block ================================================== */
/* ==== r6 (issue 14): line splitting and per-segment UTF-8 lengths for DocBatch ============ */

/* Word-at-a-time helpers (8 bytes in a uint64, little-endian byte order). */
#define SWAR_LO7 0x7F7F7F7F7F7F7F7FULL
#define SWAR_HI 0x8080808080808080ULL
/* high bit of each byte of x that equals the byte c (exact: no false positives) */
static inline uint64_t swar_eq(uint64_t x, uint8_t c) {
    const uint64_t y = x ^ (0x0101010101010101ULL * c);
    return ~(((y & SWAR_LO7) + SWAR_LO7) | y | SWAR_LO7);
}
/* high bit of each UTF-8 continuation byte (10xxxxxx) of x */
static inline uint64_t swar_cont(uint64_t x) { return x & ~(x << 1) & SWAR_HI; }
/* how many bytes of a swar_eq / swar_cont mask are set (a multiply: no popcnt before SSE4.2) */
static inline int swar_count(uint64_t m) { return (int)(((m >> 7) * 0x0101010101010101ULL) >> 56); }

/* byte_counts(data, offsets, byte, out)
 *   out int64[n] (out): occurrences of `byte` (0..255) in segment i.
 */
static PyObject *byte_counts(PyObject *self, PyObject *args) {
    Py_buffer data, off, out;
    int byte;
    if (!PyArg_ParseTuple(args, "y*y*iw*", &data, &off, &byte, &out))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = segments(&data, &off, "byte_counts");
    if (n < 0 || check(&out, 8, n, "out"))
        goto done;
    const uint8_t *d = (const uint8_t *)data.buf;
    const int64_t *o = (const int64_t *)off.buf;
    int64_t *r = (int64_t *)out.buf;
    const uint8_t c = (uint8_t)byte;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t j = o[i], cnt = 0;
        const int64_t end = o[i + 1];
        for (; j + 8 <= end; j += 8) {
            uint64_t x;
            memcpy(&x, d + j, 8);
            cnt += swar_count(swar_eq(x, c));
        }
        for (; j < end; j++)
            cnt += d[j] == c;
        r[i] = cnt;
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    return release(result, &data, &off, &out, NULL, NULL);
}

/* line_split(data, offsets, out_data, out_offsets, out_chars)
 *   Every segment split on '\n' (Arrow's split_pattern: k newlines give k + 1 pieces, so an
 *   empty segment is one empty line); lines = segments + newlines (`byte_counts`).
 *   out_data    uint8[bytes - newlines + 8] (out): the pieces back to back without the
 *               newlines (8 bytes of slack: the copy goes 8 bytes at a time)
 *   out_offsets int64[lines + 1] (out): piece k = out_data[out_offsets[k]:out_offsets[k+1]]
 *   out_chars   int64[lines] (out): code points of piece k (Arrow's utf8_length)
 */
static PyObject *line_split(PyObject *self, PyObject *args) {
    Py_buffer data, off, od, oo, oc;
    if (!PyArg_ParseTuple(args, "y*y*w*w*w*", &data, &off, &od, &oo, &oc))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = segments(&data, &off, "line_split");
    if (n < 0 || check(&oo, 8, 1, "out_offsets"))
        goto done;
    const int64_t lines = oo.len / 8 - 1;
    if (check(&oc, 8, lines, "out_chars") || check(&od, 1, 8, "out_data"))
        goto done;
    const uint8_t *d = (const uint8_t *)data.buf;
    const int64_t *o = (const int64_t *)off.buf;
    uint8_t *w = (uint8_t *)od.buf;
    int64_t *wo = (int64_t *)oo.buf, *wc = (int64_t *)oc.buf;
    const int64_t cap_data = od.len - 8;
    int64_t k = 0, nb = 0;
    int full = 0;
    Py_BEGIN_ALLOW_THREADS
    wo[0] = 0;
    for (Py_ssize_t i = 0; i < n && !full; i++) {
        int64_t j = o[i], cont = 0;
        const int64_t end = o[i + 1];
        for (;;) {
            if (nb + 8 > cap_data + 8 || k >= lines) { /* only reachable when the caller miscounted */
                full = 1;
                break;
            }
            if (j + 8 <= end) {
                uint64_t x;
                memcpy(&x, d + j, 8);
                memcpy(w + nb, &x, 8);
                const uint64_t m = swar_eq(x, '\n');
                if (!m) {
                    cont += swar_count(swar_cont(x));
                    nb += 8;
                    j += 8;
                    continue;
                }
                const int z = __builtin_ctzll(m) >> 3; /* the first newline's byte */
                cont += swar_count(swar_cont(x) & ((1ULL << (8 * z)) - 1));
                nb += z;
                j += z + 1;
            } else {
                while (j < end && d[j] != '\n') {
                    w[nb++] = d[j];
                    cont += (d[j] & 0xC0) == 0x80;
                    j++;
                }
                if (j >= end) { /* the segment's last piece */
                    wc[k] = nb - wo[k] - cont;
                    wo[++k] = nb;
                    break;
                }
                j++;
            }
            wc[k] = nb - wo[k] - cont; /* a newline ended piece k */
            wo[++k] = nb;
            cont = 0;
        }
    }
    Py_END_ALLOW_THREADS
    if (full || k != lines || nb > cap_data) {
        PyErr_SetString(PyExc_ValueError, "line_split: output buffers do not fit the lines");
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    release(NULL, &oc, NULL, NULL, NULL, NULL);
    return release(result, &data, &off, &od, &oo, NULL);
}

/* leading_bytes(data, offsets, lut, out)
 *   lut uint8[256]; out int64[n] (out): how many bytes at the start of segment i have
 *   lut[b] != 0 (e.g. the indentation: leading spaces and tabs).
 */
static PyObject *leading_bytes(PyObject *self, PyObject *args) {
    Py_buffer data, off, lut, out;
    if (!PyArg_ParseTuple(args, "y*y*y*w*", &data, &off, &lut, &out))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = segments(&data, &off, "leading_bytes");
    if (n < 0 || check(&lut, 1, 256, "lut") || check(&out, 8, n, "out"))
        goto done;
    const uint8_t *d = (const uint8_t *)data.buf, *l = (const uint8_t *)lut.buf;
    const int64_t *o = (const int64_t *)off.buf;
    int64_t *r = (int64_t *)out.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t j = o[i];
        while (j < o[i + 1] && l[d[j]])
            j++;
        r[i] = j - o[i];
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    return release(result, &data, &off, &lut, &out, NULL);
}

/* utf8_prefix_bytes(data, offsets, k, out)
 *   out int64[n] (out): bytes of the first k code points of segment i (valid UTF-8; the whole
 *   segment when it is shorter): the byte length of Arrow's utf8_slice_codeunits(s, 0, k).
 */
static PyObject *utf8_prefix_bytes(PyObject *self, PyObject *args) {
    Py_buffer data, off, out;
    long long k;
    if (!PyArg_ParseTuple(args, "y*y*Lw*", &data, &off, &k, &out))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = segments(&data, &off, "utf8_prefix_bytes");
    if (n < 0 || check(&out, 8, n, "out"))
        goto done;
    const uint8_t *d = (const uint8_t *)data.buf;
    const int64_t *o = (const int64_t *)off.buf;
    int64_t *r = (int64_t *)out.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        const int64_t a = o[i], b = o[i + 1];
        if (b - a <= k) { /* at most k bytes: at most k code points */
            r[i] = b - a;
            continue;
        }
        int64_t j = a, cp = 0; /* cp: lead bytes before j */
        while (j + 8 <= b && cp + 8 <= k) { /* a word holds at most 8 lead bytes */
            uint64_t x;
            memcpy(&x, d + j, 8);
            cp += 8 - swar_count(swar_cont(x));
            j += 8;
        }
        while (j < b && (cp < k || (d[j] & 0xC0) == 0x80)) { /* up to the (k+1)-th lead byte */
            cp += (d[j] & 0xC0) != 0x80;
            j++;
        }
        r[i] = j - a;
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    return release(result, &data, &off, &out, NULL, NULL);
}

/* tag_free_chars(data, offsets, count_space, out)
 *   out int64[n] (out): code points of segment i outside `<[^>]*>` matches (RE2, leftmost
 *   first: from a '<' to the next '>'; a '<' with no '>' after it starts none), leaving out
 *   RE2's \s bytes [\t\n\f\r ] unless count_space: the visible characters of HTML whose
 *   comments, scripts and styles are already removed.
 */
static PyObject *tag_free_chars(PyObject *self, PyObject *args) {
    Py_buffer data, off, out;
    int count_space;
    if (!PyArg_ParseTuple(args, "y*y*pw*", &data, &off, &count_space, &out))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = segments(&data, &off, "tag_free_chars");
    if (n < 0 || check(&out, 8, n, "out"))
        goto done;
    const uint8_t *d = (const uint8_t *)data.buf;
    const int64_t *o = (const int64_t *)off.buf;
    int64_t *r = (int64_t *)out.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t j = o[i], chars = 0;
        const int64_t end = o[i + 1];
        while (j < end) {
            const uint8_t *lt = memchr(d + j, '<', (size_t)(end - j));
            const uint8_t *gt = lt ? memchr(lt, '>', (size_t)(d + end - lt)) : NULL;
            const int64_t stop = gt ? lt - d : end; /* visible: [j, stop) */
            for (; j < stop; j++) {
                const uint8_t c = d[j];
                chars += (c & 0xC0) != 0x80 && (count_space || !IS_RE2_SPACE(c));
            }
            if (!gt)
                break;
            j = gt - d + 1;
        }
        r[i] = chars;
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    return release(result, &data, &off, &out, NULL, NULL);
}

/* ==== end r6 ================================================================================ */

/* ==== q7 (issue 14): per-document integer sums of the quality scorer's line facts ============ */
/* line_doc_sums(data, line_bytes, line_offsets, fields, indent, line_len, flags, out)
 *   data     uint8[total]       the flat lines' UTF-8 bytes; line j = data[line_bytes[j]:line_bytes[j+1]]
 *   line_bytes int64[lines + 1]
 *   line_offsets int64[n + 1]   document i owns the flat lines [line_offsets[i], line_offsets[i+1])
 *   fields   int32[lines * 11]  `line_scan` output of those lines
 *   indent   int64[lines]       leading whitespace in code points (any value on blank lines)
 *   line_len int64[lines]       code points per line
 *   flags    uint8[lines]       from the caller: bit 0 the code ends with an opener ({([:) and
 *                               bit 1 starts with a closer (})]), read only where that edge byte
 *                               is non-ASCII (Unicode whitespace: Arrow decides); bit 2 definition
 *                               line, 3 import line, 4 definition-start line (the keyword regexes)
 *   out      int64[n * 25] (out) per document, in LDS_* order (scorers/shape.py names them)
 * A line is blank when its leading RE2 \s run is the whole line; a comment line when the code
 * after that run starts with one of # // / * * -- ; % <!-- """ ''' (lines.COMMENT_PREFIXES).
 * Every quantity is an integer count or sum, so the float features computed from them equal
 * the numpy reference's (exact float sums of integers) bit for bit.
 */
enum { LDS_BLANK, LDS_COMMENT, LDS_LONG, LDS_INDENT_SUM, LDS_INDENT_MAX, LDS_JUMP, LDS_UP, LDS_STEPS,
       LDS_PAREN, LDS_SQUARE, LDS_DEPTH, LDS_BRACKETS, LDS_NEG, LDS_COMMENT_CHARS, LDS_CODE_CHARS,
       LDS_OPEN, LDS_BAD_OPEN, LDS_CLOSE, LDS_BAD_CLOSE, LDS_INDENTED, LDS_ODD, LDS_TABS, LDS_DEF,
       LDS_IMPORT, LDS_LATE_IMPORT, LDS_N };

static inline int lds_comment(uint32_t h) { /* the line's first four code bytes, big-endian */
    const uint8_t b0 = h >> 24, b1 = (h >> 16) & 255, b2 = (h >> 8) & 255;
    switch (b0) {
    case '#': case '*': case ';': case '%': return 1;
    case '/': return b1 == '/' || b1 == '*';
    case '-': return b1 == '-';
    case '<': return h == 0x3C212D2Du; /* <!-- */
    case '"': case '\'': return b1 == b0 && b2 == b0;
    default: return 0;
    }
}

static inline int lds_edge(int32_t byte, int override, const char *set) {
    if (byte < 0)
        return 0;
    return byte >= 0x80 ? override : (byte != 0 && strchr(set, byte) != NULL);
}

static PyObject *line_doc_sums(PyObject *self, PyObject *args) {
    Py_buffer b[8]; /* data, line_bytes, line_offsets, fields, indent, line_len, flags, out */
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*w*", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &b[6], &b[7]))
        return NULL;
    PyObject *result = NULL;
    const Py_ssize_t lines = segments(&b[0], &b[1], "line_doc_sums"), n = b[2].len / 8 - 1;
    if (lines < 0 || check(&b[2], 8, 1, "line_offsets") || check(&b[3], 4, lines * 11, "fields")
        || check(&b[4], 8, lines, "indent") || check(&b[5], 8, lines, "line_len") || check(&b[6], 1, lines, "flags")
        || check(&b[7], 8, n * LDS_N, "out"))
        goto done;
    const int64_t *o = (const int64_t *)b[2].buf;
    if (o[0] != 0 || o[n] > lines)
        goto bad;
    if (check_offsets(o, n, lines, "line_doc_sums"))
        goto done;
    const uint8_t *d = (const uint8_t *)b[0].buf, *fl = (const uint8_t *)b[6].buf;
    const int64_t *lb = (const int64_t *)b[1].buf, *ind = (const int64_t *)b[4].buf, *len = (const int64_t *)b[5].buf;
    const int32_t *f = (const int32_t *)b[3].buf;
    int64_t *r = (int64_t *)b[7].buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t s[LDS_N] = {0};
        int64_t depth = 0, prev = -1, prev_opener = 0; /* running bracket depth; previous non-blank line */
        int seen_def = 0;
        for (int64_t j = o[i]; j < o[i + 1]; j++) {
            const int32_t *g = f + 11 * j;
            const uint8_t flag = fl[j];
            s[LDS_LONG] += len[j] > 120;
            s[LDS_PAREN] += g[8];
            s[LDS_SQUARE] += g[9];
            s[LDS_DEPTH] += g[5];
            s[LDS_BRACKETS] += g[10];
            s[LDS_DEF] += (flag >> 2) & 1;
            if (flag & 8) {
                s[LDS_IMPORT]++;
                s[LDS_LATE_IMPORT] += seen_def;
            }
            seen_def |= (flag >> 4) & 1;
            depth += g[5];
            s[LDS_NEG] += (j + 1 < o[i + 1]) && depth < 0;
            if (g[0] == lb[j + 1] - lb[j]) { /* blank */
                s[LDS_BLANK]++;
                continue;
            }
            const int64_t in = ind[j];
            const int comment = lds_comment((uint32_t)g[1]);
            s[LDS_COMMENT] += comment;
            s[LDS_INDENT_SUM] += in;
            if (in > s[LDS_INDENT_MAX])
                s[LDS_INDENT_MAX] = in;
            s[LDS_CODE_CHARS] += len[j];
            if (comment) {
                s[LDS_COMMENT_CHARS] += len[j];
            } else {
                const int32_t slash = g[6], hash = g[7];
                const int32_t at = (hash >= 0 && (slash < 0 || hash < slash)) ? hash : slash;
                if (at >= 0)
                    s[LDS_COMMENT_CHARS] += len[j] - at;
            }
            if (in > 0) {
                s[LDS_INDENTED]++;
                s[LDS_ODD] += in % 2 == 1;
                s[LDS_TABS] += d[lb[j]] == '\t';
            }
            if (prev >= 0) {
                const int64_t step = in - ind[prev];
                s[LDS_STEPS]++;
                s[LDS_JUMP] += step < 0 ? -step : step;
                s[LDS_UP] += step > 4;
                if (prev_opener) {
                    s[LDS_OPEN]++;
                    s[LDS_BAD_OPEN] += !(in > ind[prev]);
                }
                if (lds_edge(g[3], (flag >> 1) & 1, "})]")) {
                    s[LDS_CLOSE]++;
                    s[LDS_BAD_CLOSE] += in > ind[prev];
                }
            }
            prev = j;
            prev_opener = lds_edge(g[4], flag & 1, "{([:");
        }
        memcpy(r + LDS_N * i, s, sizeof s);
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
    goto done;
bad:
    PyErr_SetString(PyExc_ValueError, "line_doc_sums: line offsets out of range");
done:
    for (int k = 0; k < 8; k++)
        PyBuffer_Release(&b[k]);
    return result;
}
/* token_split_bmp(data, offsets, pad, out_offsets, astral, end) -> bytes
 *   `token_split` for UTF-8 text: pad uint8[65536] is 1 for the code points (U+0000..U+FFFF)
 *   to set off with a space on each side; astral uint8[n] (out) is 1 for the documents holding
 *   a code point above U+FFFF (copied unpadded here: the caller redoes those documents).
 *   A byte sequence that is not UTF-8 is copied byte by byte, unpadded.
 */
static PyObject *token_split_bmp(PyObject *self, PyObject *args) {
    Py_buffer buf[5]; /* data, offsets, pad, out_offsets, astral */
    int end = -1;
    if (!PyArg_ParseTuple(args, "y*y*y*w*w*i", &buf[0], &buf[1], &buf[2], &buf[3], &buf[4], &end))
        return NULL;
    PyObject *result = NULL;
    const Py_ssize_t n = segments(&buf[0], &buf[1], "token_split_bmp");
    if (n < 0 || check(&buf[2], 1, 65536, "pad") || check(&buf[3], 8, n + 1, "out_offsets") || check(&buf[4], 1, n, "astral"))
        goto done;
    if (end < -1 || end > 255) {
        PyErr_SetString(PyExc_ValueError, "token_split_bmp: end must be -1 or a byte");
        goto done;
    }
    result = split_tokens((const uint8_t *)buf[0].buf, (const int64_t *)buf[1].buf, n, (const uint8_t *)buf[2].buf, 1,
                          (int64_t *)buf[3].buf, (uint8_t *)buf[4].buf, end);
done:
    return release(result, &buf[0], &buf[1], &buf[2], &buf[3], &buf[4]);
}
#define Q7_METHODS                                                                                   \
    {"line_doc_sums", line_doc_sums, METH_VARARGS,                                                   \
     "line_doc_sums(data, line_bytes, line_offsets, fields, indent, line_len, flags, out): per-document line-fact sums"}, \
    {"token_split_bmp", token_split_bmp, METH_VARARGS,                                               \
     "token_split_bmp(data, offsets, pad, out_offsets, astral, end) -> bytes: token_split for UTF-8 (U+FFFF and below)"},
/* ==== end q7 ================================================================================ */
/* ==== r7 (issue 14): rules gate: non-ASCII code points, one pass over the lines ============== */

/* nonascii_codepoints(data, offsets, cp_out, doc_out) -> count
 *   cp_out, doc_out int64[cap] (out): for every byte >= 0xC0 (a UTF-8 lead byte) of the
 *   segments, in order, the code point it starts and the segment holding it. Decoded as
 *   features.non_ascii_codepoints_numpy does (the reference): 2/3/4-byte forms by the lead
 *   byte alone, bytes past the end of the last segment read as 0. ASCII is skipped 8 bytes
 *   at a time. ValueError when more than `cap` lead bytes are found.
 */
static PyObject *nonascii_codepoints(PyObject *self, PyObject *args) {
    Py_buffer data, off, cpo, doco;
    if (!PyArg_ParseTuple(args, "y*y*w*w*", &data, &off, &cpo, &doco))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = segments(&data, &off, "nonascii_codepoints");
    if (n < 0 || check(&cpo, 8, 0, "cp_out") || check(&doco, 8, cpo.len / 8, "doc_out"))
        goto done;
    const uint8_t *d = (const uint8_t *)data.buf;
    const int64_t *o = (const int64_t *)off.buf;
    int64_t *cp = (int64_t *)cpo.buf, *dc = (int64_t *)doco.buf;
    const int64_t cap = cpo.len / 8, end = n > 0 ? o[n] : 0;
    int64_t k = 0, doc = 0, j = n > 0 ? o[0] : 0;
    Py_BEGIN_ALLOW_THREADS
    while (j < end && k <= cap) {
        if (j + 8 <= end) {
            uint64_t x;
            memcpy(&x, d + j, 8);
            if (!(x & 0x8080808080808080ULL)) {
                j += 8;
                continue;
            }
        }
        const int64_t b0 = d[j];
        if (b0 >= 0xC0) {
            const int64_t b1 = j + 1 < end ? d[j + 1] : 0, b2 = j + 2 < end ? d[j + 2] : 0, b3 = j + 3 < end ? d[j + 3] : 0;
            while (o[doc + 1] <= j)
                doc++;
            if (k == cap) {
                k++;
                break;
            }
            cp[k] = b0 < 0xE0   ? ((b0 & 0x1F) << 6) | (b1 & 0x3F)
                    : b0 < 0xF0 ? ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F)
                                : ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F);
            dc[k++] = doc;
        }
        j++;
    }
    Py_END_ALLOW_THREADS
    if (k > cap) {
        PyErr_SetString(PyExc_ValueError, "nonascii_codepoints: more lead bytes than cp_out holds");
        goto done;
    }
    result = PyLong_FromLongLong((long long)k);
done:
    release(NULL, &cpo, &doco, NULL, NULL, NULL);
    return release(result, &data, &off, NULL, NULL, NULL);
}

/* line_pass(data, offsets, lut, lead, bits, indent, hashes, unsure)
 * One pass over every segment (a line) for what three kernels give one pass each:
 *   bits    uint8[n] (out): `segment_or(data, offsets, lut)`
 *   indent  int64[n] (out): `leading_bytes(data, offsets, lead)`
 *   hashes  uint64[n], unsure uint8[n] (out): `trimmed_hash(data, offsets)`
 * The trimmed span is hashed 8 bytes at a time; the OR of its words tells whether it holds a
 * non-ASCII byte (the whitespace around it is ASCII), so the bytes are read about once.
 */
static PyObject *line_pass(PyObject *self, PyObject *args) {
    Py_buffer data, off, lut, lead, bits, ind, hs, uns;
    if (!PyArg_ParseTuple(args, "y*y*y*y*w*w*w*w*", &data, &off, &lut, &lead, &bits, &ind, &hs, &uns))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = segments(&data, &off, "line_pass");
    if (n < 0 || check(&lut, 1, 256, "lut") || check(&lead, 1, 256, "lead") || check(&bits, 1, n, "bits") ||
        check(&ind, 8, n, "indent") || check(&hs, 8, n, "hashes") || check(&uns, 1, n, "unsure"))
        goto done;
    const uint8_t *d = (const uint8_t *)data.buf, *l = (const uint8_t *)lut.buf, *ld = (const uint8_t *)lead.buf;
    const int64_t *o = (const int64_t *)off.buf;
    uint8_t *rb = (uint8_t *)bits.buf, *ru = (uint8_t *)uns.buf;
    int64_t *ri = (int64_t *)ind.buf;
    uint64_t *rh = (uint64_t *)hs.buf;
    uint8_t asc = 0, all = 0, hi_bits = 0; /* bits an ASCII byte / any byte / every non-ASCII byte can add */
    int uniform = 1;                        /* every non-ASCII byte has the same lut entry */
    for (int c = 0; c < 256; c++) {
        asc |= c < 128 ? l[c] : 0;
        all |= l[c];
        if (c >= 128)
            uniform &= l[c] == l[128];
    }
    hi_bits = l[128];
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        const int64_t a = o[i], b = o[i + 1];
        int64_t j = a;
        while (j < b && ld[d[j]])
            j++;
        ri[i] = j - a;
        uint8_t acc = 0;
        for (j = a; j < b && (acc & asc) != asc; j++)
            acc |= l[d[j]];
        int64_t ta = a, tb = b;
        while (ta < tb && IS_ARROW_WS(d[ta]))
            ta++;
        while (tb > ta && IS_ARROW_WS(d[tb - 1]))
            tb--;
        ru[i] = tb > ta && (d[ta] >= 128 || d[tb - 1] >= 128);
        uint64_t any;
        rh[i] = hash_bytes_any(d + ta, tb - ta, &any);
        if ((any & 0x8080808080808080ULL) && acc != all) { /* non-ASCII bytes add their lut bits */
            if (uniform)
                acc |= hi_bits;
            else
                for (int64_t k = ta; k < tb && acc != all; k++)
                    acc |= l[d[k]];
        }
        rb[i] = acc;
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release(NULL, &bits, &ind, &hs, &uns, NULL);
    return release(result, &data, &off, &lut, &lead, NULL);
}

/* ==== end of r7 block ========================================================================== */

static PyMethodDef methods[] = {
    {"byte_scan", byte_scan, METH_VARARGS,
     "byte_scan(data, offsets, space, hist, extra): per-document byte histograms, word and U+FFFD counts"},
    {"segment_or", segment_or, METH_VARARGS, "segment_or(data, offsets, lut, out): OR of lut[byte] per segment"},
    {"segment_hash", segment_hash, METH_VARARGS, "segment_hash(data, offsets, out): a 64-bit hash per segment"},
    {"hex_words", hex_words, METH_VARARGS, "hex_words(data, offsets, out): bytes inside \\b0[xX][0-9a-fA-F]+\\b matches"},
    {"token_split", token_split, METH_VARARGS,
     "token_split(data, offsets, pad, out_offsets, end) -> bytes: punctuation set off with spaces, newline tokens"},
    {"line_scan", line_scan, METH_VARARGS, "line_scan(data, offsets, out): per-line indentation, edges, brackets, comment marks"},
    {"comment_text", comment_text, METH_VARARGS,
     "comment_text(data, offsets, flags, max_cp) -> list[str]: each document's comments joined by newlines"},
    {"components", components, METH_VARARGS,
     "components(u, v, root): root[i] = the smallest node of i's connected component (union-find)"},
    {"shingle_pack", shingle_pack, METH_VARARGS,
     "shingle_pack(data, offsets, table, (k, salt), out_offsets, out) -> int: hashed token k-grams per document"},
    {"shingle_hits", shingle_hits, METH_VARARGS,
     "shingle_hits(data, offsets, table, (k, salt, low_bits), low, members, out): shingles in members per document"},
    {"blank_numbers", blank_numbers, METH_VARARGS,
     "blank_numbers(data, offsets, out): data with \\b[0-9][0-9a-fA-FxX._]*\\b matches turned to spaces"},
    {"segment_find", segment_find, METH_VARARGS,
     "segment_find(data, offsets, needles, fold, out): segments holding one of the 0-ended needles"},
    {"encoded_runs", encoded_runs, METH_VARARGS,
     "encoded_runs(data, offsets, out_data, out_offsets, out_doc) -> (pieces, bytes): where encoded data can match"},
    {"trimmed_hash", trimmed_hash, METH_VARARGS, "trimmed_hash(data, offsets, out, unsure): segment_hash of whitespace-trimmed segments"},
    {"repeated_keys", repeated_keys, METH_VARARGS, "repeated_keys(keys, offsets, mask, out): keys repeated within their group"},
    QUALITY_METHODS /* q6 */
    /* r6 (issue 14) */
    {"byte_counts", byte_counts, METH_VARARGS, "byte_counts(data, offsets, byte, out): occurrences of a byte per segment"},
    {"line_split", line_split, METH_VARARGS,
     "line_split(data, offsets, out_data, out_offsets, out_chars): segments split on newlines, without them"},
    {"leading_bytes", leading_bytes, METH_VARARGS, "leading_bytes(data, offsets, lut, out): leading lut bytes per segment"},
    {"utf8_prefix_bytes", utf8_prefix_bytes, METH_VARARGS,
     "utf8_prefix_bytes(data, offsets, k, out): bytes of the first k code points per segment"},
    {"tag_free_chars", tag_free_chars, METH_VARARGS,
     "tag_free_chars(data, offsets, count_space, out): code points outside <...> tags per segment"},
    /* end r6 */
    Q7_METHODS /* q7 */
    /* r7 (issue 14) */
    {"nonascii_codepoints", nonascii_codepoints, METH_VARARGS,
     "nonascii_codepoints(data, offsets, cp_out, doc_out) -> count: code point and segment of every UTF-8 lead byte"},
    {"line_pass", line_pass, METH_VARARGS,
     "line_pass(data, offsets, lut, lead, bits, indent, hashes, unsure): segment_or, leading_bytes and trimmed_hash in one pass"},
    /* end r7 */
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", NULL, -1, methods};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
