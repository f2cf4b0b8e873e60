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
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t *hi = h + i * 256;
        int64_t words = 0, fffd = 0;
        int prev_space = 1;
        const int64_t end = o[i + 1];
        for (int64_t j = o[i]; j < end; j++) {
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
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        uint8_t acc = 0;
        for (int64_t j = o[i]; j < o[i + 1]; j++)
            acc |= l[d[j]];
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

/* segment_hash(data, offsets, out)
 *   data uint8[total]; offsets int64[n + 1]; out uint64[n] (out): a 64-bit hash of the bytes
 *   of segment i (8-byte words folded through splitmix64's finalizer, length included), so
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
    for (Py_ssize_t i = 0; i < n; i++) {
        const uint8_t *p = d + o[i];
        int64_t len = o[i + 1] - o[i];
        uint64_t h = mix64((uint64_t)len * 0x9E3779B97F4A7C15ULL), w;
        for (; len >= 8; len -= 8, p += 8) {
            memcpy(&w, p, 8);
            h = mix64(h ^ w);
        }
        w = 0;
        memcpy(&w, p, (size_t)len);
        r[i] = mix64(h ^ w ^ ((uint64_t)len << 56));
    }
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

/* token_split(data, offsets, pad, out_offsets, end) -> bytes
 *   data    uint8[total]; offsets int64[n + 1] (document i = data[offsets[i]:offsets[i+1]])
 *   pad     uint8[256]: 1 for the bytes to set off with a space on each side
 *   out_offsets int64[n + 1] (out): document i of the result = result[out_offsets[i]:out_offsets[i+1]]
 *   end     a byte (0..255) appended to every document, or -1 for none
 * Every "\n" or "\r\n" becomes " \u2424 " (the language-id token stream's newline token), every
 * `pad` byte b becomes " b ", other bytes stay: the two RE2 replaces of
 * codesieve.filters.langid.content.prepare for ASCII text (scorers/text.py is the caller).
 */
static const char NL_TOKEN[5] = {' ', '\xe2', '\x90', '\xa4', ' '};

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
    const uint8_t *d = (const uint8_t *)buf[0].buf;
    const int64_t *o = (const int64_t *)buf[1].buf;
    const uint8_t *p = (const uint8_t *)buf[2].buf;
    int64_t *oo = (int64_t *)buf[3].buf;
    int64_t total = 0;
    oo[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        for (int64_t j = o[i]; j < o[i + 1]; j++) {
            const uint8_t b = d[j];
            if (b == '\n' || (b == '\r' && j + 1 < o[i + 1] && d[j + 1] == '\n')) {
                total += 5;
                j += b == '\r';
            } else {
                total += p[b] ? 3 : 1;
            }
        }
        total += end >= 0;
        oo[i + 1] = total;
    }
    result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)total);
    if (result == NULL)
        goto done;
    char *w = PyBytes_AS_STRING(result);
    for (Py_ssize_t i = 0; i < n; i++) {
        for (int64_t j = o[i]; j < o[i + 1]; j++) {
            const uint8_t b = d[j];
            if (b == '\n' || (b == '\r' && j + 1 < o[i + 1] && d[j + 1] == '\n')) {
                memcpy(w, NL_TOKEN, 5);
                w += 5;
                j += b == '\r';
            } else if (p[b]) {
                w[0] = ' ';
                w[1] = (char)b;
                w[2] = ' ';
                w += 3;
            } else {
                *w++ = (char)b;
            }
        }
        if (end >= 0)
            *w++ = (char)end;
    }
done:
    return release(result, &buf[0], &buf[1], &buf[2], &buf[3], NULL);
}

static PyMethodDef methods[] = {
    {"byte_scan", byte_scan, METH_VARARGS,
     "byte_scan(data, offsets, space, hist, extra): per-document byte histograms, word and U+FFFD counts"},
    {"segment_or", segment_or, METH_VARARGS, "segment_or(data, offsets, lut, out): OR of lut[byte] per segment"},
    {"segment_hash", segment_hash, METH_VARARGS, "segment_hash(data, offsets, out): a 64-bit hash per segment"},
    {"hex_words", hex_words, METH_VARARGS, "hex_words(data, offsets, out): bytes inside \\b0[xX][0-9a-fA-F]+\\b matches"},
    {"token_split", token_split, METH_VARARGS,
     "token_split(data, offsets, pad, out_offsets, end) -> bytes: punctuation set off with spaces, newline tokens"},
    {"line_scan", line_scan, METH_VARARGS, "line_scan(data, offsets, out): per-line indentation, edges, brackets, comment marks"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", NULL, -1, methods};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
