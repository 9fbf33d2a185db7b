/*
 * Batch Keccak-256 for the Merkle tree: the accelerator behind
 * ledger.core.merkle. Consensus-critical: it must agree bit for bit with the
 * pure-Python reference in merkle.py, which the tests check on random input
 * and on the vectors.
 *
 * It knows two hashes and nothing about the tree's shape (merkle.py owns that):
 *   hash_leaves(buf): for each 32-byte digest d, keccak256(keccak256(d))
 *   hash_pairs(buf):  for each 64-byte pair a||b, keccak256(min(a,b)||max(a,b))
 *
 * Every input here is one block (32 or 64 bytes), so there is no sponge loop.
 * Records are hashed four at a time: lane j of each 4-wide vector holds record
 * j's state, so the Keccak-f[1600] round code, written out on 25 named lanes
 * (the Keccak team's "simple" 64-bit layout, two rounds per iteration so no
 * lane is copied between rounds), runs on four states at once. With gcc on
 * x86-64 a second copy is compiled for AVX2 and picked at load time; the
 * generic copy still gains from two-lane SSE2. The GIL is released while
 * hashing.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define WAYS 4
typedef uint64_t LANE __attribute__((vector_size(8 * WAYS)));

/* target_clones resolves through glibc's ifunc loader, so gcc, x86-64 and glibc only. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
#define MULTIVERSIONED __attribute__((target_clones("avx2", "default")))
#else
#define MULTIVERSIONED
#endif

#define RATE_LANES 17 /* Keccak-256: 1088-bit rate */

static const uint64_t RC[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL,
    0x8000000080008000ULL, 0x000000000000808bULL, 0x0000000080000001ULL,
    0x8000000080008081ULL, 0x8000000000008009ULL, 0x000000000000008aULL,
    0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL,
    0x8000000000008003ULL, 0x8000000000008002ULL, 0x8000000000000080ULL,
    0x000000000000800aULL, 0x800000008000000aULL, 0x8000000080008081ULL,
    0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

#define ROL(a, n) (((a) << (n)) | ((a) >> (64 - (n))))

/* Lane (x, y) is named by row y in b,g,k,m,s and column x in a,e,i,o,u;
 * state index x + 5y. */
#define LANES(P)                                                               \
    LANE P##ba, P##be, P##bi, P##bo, P##bu, P##ga, P##ge, P##gi, P##go,        \
        P##gu, P##ka, P##ke, P##ki, P##ko, P##ku, P##ma, P##me, P##mi, P##mo,  \
        P##mu, P##sa, P##se, P##si, P##so, P##su

/* One row of chi: five lanes of E from the rotated lanes B0..B4. */
#define CHI(E, r)                                                              \
    E##r##a = B0 ^ (~B1 & B2);                                                 \
    E##r##e = B1 ^ (~B2 & B3);                                                 \
    E##r##i = B2 ^ (~B3 & B4);                                                 \
    E##r##o = B3 ^ (~B4 & B0);                                                 \
    E##r##u = B4 ^ (~B0 & B1)

/* One full round (theta, rho, pi, chi, iota) reading state A, writing E. */
#define ROUND(A, E, rc)                                                        \
    do {                                                                       \
        LANE Ca = A##ba ^ A##ga ^ A##ka ^ A##ma ^ A##sa;                       \
        LANE Ce = A##be ^ A##ge ^ A##ke ^ A##me ^ A##se;                       \
        LANE Ci = A##bi ^ A##gi ^ A##ki ^ A##mi ^ A##si;                       \
        LANE Co = A##bo ^ A##go ^ A##ko ^ A##mo ^ A##so;                       \
        LANE Cu = A##bu ^ A##gu ^ A##ku ^ A##mu ^ A##su;                       \
        LANE Da = Cu ^ ROL(Ce, 1), De = Ca ^ ROL(Ci, 1);                       \
        LANE Di = Ce ^ ROL(Co, 1), Do = Ci ^ ROL(Cu, 1);                       \
        LANE Du = Co ^ ROL(Ca, 1);                                             \
        LANE B0, B1, B2, B3, B4;                                               \
        B0 = A##ba ^ Da;                                                       \
        B1 = ROL(A##ge ^ De, 44);                                              \
        B2 = ROL(A##ki ^ Di, 43);                                              \
        B3 = ROL(A##mo ^ Do, 21);                                              \
        B4 = ROL(A##su ^ Du, 14);                                              \
        CHI(E, b);                                                             \
        E##ba ^= (rc);                                                         \
        B0 = ROL(A##bo ^ Do, 28);                                              \
        B1 = ROL(A##gu ^ Du, 20);                                              \
        B2 = ROL(A##ka ^ Da, 3);                                               \
        B3 = ROL(A##me ^ De, 45);                                              \
        B4 = ROL(A##si ^ Di, 61);                                              \
        CHI(E, g);                                                             \
        B0 = ROL(A##be ^ De, 1);                                               \
        B1 = ROL(A##gi ^ Di, 6);                                               \
        B2 = ROL(A##ko ^ Do, 25);                                              \
        B3 = ROL(A##mu ^ Du, 8);                                               \
        B4 = ROL(A##sa ^ Da, 18);                                              \
        CHI(E, k);                                                             \
        B0 = ROL(A##bu ^ Du, 27);                                              \
        B1 = ROL(A##ga ^ Da, 36);                                              \
        B2 = ROL(A##ke ^ De, 10);                                              \
        B3 = ROL(A##mi ^ Di, 15);                                              \
        B4 = ROL(A##so ^ Do, 56);                                              \
        CHI(E, m);                                                             \
        B0 = ROL(A##bi ^ Di, 62);                                              \
        B1 = ROL(A##go ^ Do, 55);                                              \
        B2 = ROL(A##ku ^ Du, 39);                                              \
        B3 = ROL(A##ma ^ Da, 41);                                              \
        B4 = ROL(A##se ^ De, 2);                                               \
        CHI(E, s);                                                             \
    } while (0)

/* Keccak-f[1600] on WAYS states; always inlined so each multiversioned
 * caller gets it compiled for its own instruction set. */
static inline __attribute__((always_inline)) void keccak_f1600(LANE s[25])
{
    LANES(A);
    LANES(E);
    Aba = s[0];  Abe = s[1];  Abi = s[2];  Abo = s[3];  Abu = s[4];
    Aga = s[5];  Age = s[6];  Agi = s[7];  Ago = s[8];  Agu = s[9];
    Aka = s[10]; Ake = s[11]; Aki = s[12]; Ako = s[13]; Aku = s[14];
    Ama = s[15]; Ame = s[16]; Ami = s[17]; Amo = s[18]; Amu = s[19];
    Asa = s[20]; Ase = s[21]; Asi = s[22]; Aso = s[23]; Asu = s[24];
    for (int r = 0; r < 24; r += 2) {
        ROUND(A, E, RC[r]);
        ROUND(E, A, RC[r + 1]);
    }
    s[0] = Aba;  s[1] = Abe;  s[2] = Abi;  s[3] = Abo;  s[4] = Abu;
    s[5] = Aga;  s[6] = Age;  s[7] = Agi;  s[8] = Ago;  s[9] = Agu;
    s[10] = Aka; s[11] = Ake; s[12] = Aki; s[13] = Ako; s[14] = Aku;
    s[15] = Ama; s[16] = Ame; s[17] = Ami; s[18] = Amo; s[19] = Amu;
    s[20] = Asa; s[21] = Ase; s[22] = Asi; s[23] = Aso; s[24] = Asu;
}

/* Lanes are little-endian; byte-wise so the code is right on any host (gcc
 * turns these into single loads and stores on little-endian machines). */
static inline uint64_t load64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
           (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
           (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static inline void store64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* Keccak padding (0x01 ... 0x80, not SHA-3's 0x06) after a message of
 * `lanes` whole lanes, which always fits the one block. */
static inline void pad(LANE s[25], int lanes)
{
    s[lanes] ^= 0x01ULL;
    s[RATE_LANES - 1] ^= 0x8000000000000000ULL;
}

/* Writes the 32-byte digest of each of the first n states. */
static inline void squeeze(const LANE s[25], uint8_t *out, int n)
{
    for (int j = 0; j < n; j++) {
        for (int i = 0; i < 4; i++) {
            store64(out + 32 * j + 8 * i, s[i][j]);
        }
    }
}

/* keccak256(keccak256(r)) for each record r of `lanes` 8-byte lanes (4: a 32-byte
 * digest, 8: an abi-encoded pair); the inner digest stays in lanes. */
static inline void double_hashes(const uint8_t *in, uint8_t *out, Py_ssize_t count, int lanes)
{
    for (Py_ssize_t first = 0; first < count; first += WAYS) {
        int n = count - first < WAYS ? (int)(count - first) : WAYS;
        LANE s[25] = {0};
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < lanes; i++) {
                s[i][j] = load64(in + 8 * lanes * (first + j) + 8 * i);
            }
        }
        pad(s, lanes);
        keccak_f1600(s);
        LANE inner[4] = {s[0], s[1], s[2], s[3]};
        memset(s, 0, sizeof s);
        memcpy(s, inner, sizeof inner);
        pad(s, 4);
        keccak_f1600(s);
        squeeze(s, out + 32 * first, n);
    }
}

/* The batch tree's leaves: keccak256(keccak256(d)) for each 32-byte digest d. */
MULTIVERSIONED static void leaves(const uint8_t *in, uint8_t *out, Py_ssize_t count)
{
    double_hashes(in, out, count, 4);
}

/* The assets tree's leaves: keccak256(keccak256(i || e)) for each 64-byte record
 * of a 32-byte big-endian index i and a 32-byte entry hash e. */
MULTIVERSIONED static void records64(const uint8_t *in, uint8_t *out, Py_ssize_t count)
{
    double_hashes(in, out, count, 8);
}

/* keccak256(min(a,b) || max(a,b)) for each 64-byte pair a||b. */
MULTIVERSIONED static void pairs(const uint8_t *in, uint8_t *out, Py_ssize_t count)
{
    for (Py_ssize_t first = 0; first < count; first += WAYS) {
        int n = count - first < WAYS ? (int)(count - first) : WAYS;
        LANE s[25] = {0};
        for (int j = 0; j < n; j++) {
            const uint8_t *lo = in + 64 * (first + j), *hi = lo + 32;
            if (memcmp(lo, hi, 32) > 0) {
                const uint8_t *t = lo;
                lo = hi;
                hi = t;
            }
            for (int i = 0; i < 4; i++) {
                s[i][j] = load64(lo + 8 * i);
                s[4 + i][j] = load64(hi + 8 * i);
            }
        }
        pad(s, 8);
        keccak_f1600(s);
        squeeze(s, out + 32 * first, n);
    }
}

typedef void (*batch_hash)(const uint8_t *in, uint8_t *out, Py_ssize_t count);

/* Hashes each `unit`-byte record of a bytes-like object with `fn`, giving
 * one 32-byte digest per record, concatenated. */
static PyObject *hash_records(PyObject *arg, Py_ssize_t unit, batch_hash fn)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (view.len % unit != 0) {
        PyErr_Format(PyExc_ValueError, "input length %zd is not a multiple of %zd",
                     view.len, unit);
        PyBuffer_Release(&view);
        return NULL;
    }
    Py_ssize_t count = view.len / unit;
    PyObject *result = PyBytes_FromStringAndSize(NULL, count * 32);
    if (result != NULL) {
        const uint8_t *src = view.buf;
        uint8_t *dst = (uint8_t *)PyBytes_AS_STRING(result);
        Py_BEGIN_ALLOW_THREADS
        fn(src, dst, count);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&view);
    return result;
}

static PyObject *py_hash_leaves(PyObject *self, PyObject *arg)
{
    (void)self;
    return hash_records(arg, 32, leaves);
}

static PyObject *py_hash_records64(PyObject *self, PyObject *arg)
{
    (void)self;
    return hash_records(arg, 64, records64);
}

static PyObject *py_hash_pairs(PyObject *self, PyObject *arg)
{
    (void)self;
    return hash_records(arg, 64, pairs);
}

static PyMethodDef methods[] = {
    {"hash_leaves", py_hash_leaves, METH_O,
     "keccak256(keccak256(d)) of each 32-byte d in the buffer, concatenated."},
    {"hash_records64", py_hash_records64, METH_O,
     "keccak256(keccak256(r)) of each 64-byte record r in the buffer, concatenated."},
    {"hash_pairs", py_hash_pairs, METH_O,
     "keccak256(min(a,b) || max(a,b)) of each 64-byte pair a||b, concatenated."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_keccak",
    .m_doc = "Batch Keccak-256 for ledger.core.merkle (see merkle.py for the tree).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__keccak(void)
{
    return PyModule_Create(&module);
}
