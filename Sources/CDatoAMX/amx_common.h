// What the AMX kernels of this target share: target attributes, the tile configuration, bf16 rounding, prefetching.
#ifndef DATO_AMX_COMMON_H
#define DATO_AMX_COMMON_H

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#define DATO_HAVE_AMX_BUILD 1
#define AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#define AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#endif

static inline long round_up(long x, long m) { return (x + m - 1) / m * m; }

// Round to nearest even, as the hardware conversion does for finite values.
static inline unsigned short to_bf16(float v) {
    uint32_t bits;
    memcpy(&bits, &v, 4);
    bits += 0x7FFFu + ((bits >> 16) & 1u);
    return (unsigned short)(bits >> 16);
}

#ifdef DATO_HAVE_AMX_BUILD
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

// Eight tiles of 16 rows x 64 bytes (their roles are given where they are used).
AMX_TARGET static inline void load_tile_config(void) {
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int i = 0; i < 8; i++) { cfg.colsb[i] = 64; cfg.rows[i] = 16; }
    _tile_loadconfig(&cfg);
}

// Asks for `rows` cache lines `stride` bytes apart in L1 (a tile the next step loads).
static inline void prefetch_rows(const void *first, long stride, int rows) {
    for (int r = 0; r < rows; r++) _mm_prefetch((const char *)first + r * stride, _MM_HINT_T0);
}
#endif

#endif
