/* Compiled per-document byte scans for the rules gate (codesieve.filters.rules.features
 * and .general).
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

static PyMethodDef methods[] = {
    {"byte_scan", byte_scan, METH_VARARGS,
     "byte_scan(data, offsets, space, hist, extra): per-document byte histograms, word and U+FFFD counts"},
    {"segment_or", segment_or, METH_VARARGS, "segment_or(data, offsets, lut, out): OR of lut[byte] per segment"},
    {"segment_hash", segment_hash, METH_VARARGS, "segment_hash(data, offsets, out): a 64-bit hash per segment"},
    {"hex_words", hex_words, METH_VARARGS, "hex_words(data, offsets, out): bytes inside \\b0[xX][0-9a-fA-F]+\\b matches"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", NULL, -1, methods};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
