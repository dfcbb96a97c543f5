// corvus-logits: llama.cpp's teacher-forced logits for a token sequence, the oracle of Corvus's
// conformance tests (scripts/llama-cpp.sh builds it against include/llama.h).
//
//   corvus-logits -m MODEL.gguf -t ID,ID,... [-o LOGITS.f32] [-k TOP] [--threads N]
//   corvus-logits -m MODEL.gguf -p TEXT.txt     prints the text's token ids, comma-separated
//
// One llama_batch holds every token (sequence 0, positions 0..T-1) with an output requested at
// each position, so one llama_decode gives all T rows. -o writes them as little-endian float32,
// T rows of n_vocab, row-major. -k prints "POS ID:LOGIT ..." per position, best first, the same
// text `corvus logits --top K` prints, so the two diff. The KV cache is F32 and flash attention
// off: llama.cpp's default F16 cache rounds keys and values to 11 bits, which alone moves logits
// by more than the 1e-3 the F32 comparison allows. -p tokenises a file as llama-perplexity -f
// does (one trailing newline dropped, BOS added when the vocabulary says so, special tokens not
// parsed). Exit status 0 on success; llama.cpp's own log goes to stderr only with -v, and every
// failure names what failed on stderr.
#include "llama.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int verbose = 0;

static void quiet_log(enum ggml_log_level level, const char *text, void *user) {
    (void) user;
    if (verbose || level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

static void usage(void) {
    fprintf(stderr, "usage: corvus-logits -m MODEL.gguf -t ID,ID,... [-o LOGITS.f32] [-k TOP] [--threads N] [-v]\n"
                    "       corvus-logits -m MODEL.gguf -p TEXT.txt\n");
}

// The file's bytes with one trailing newline dropped (as llama.cpp's -f); NULL with a message.
static char *read_text(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); return NULL; }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t) n + 1);
    if (fread(buf, 1, (size_t) n, f) != (size_t) n) { perror(path); fclose(f); free(buf); return NULL; }
    fclose(f);
    if (n > 0 && buf[n - 1] == '\n') n--;
    buf[n] = 0;
    *len = n;
    return buf;
}

// Parses "1,2,3" into a fresh array; returns the count, or -1 with a message.
static int parse_tokens(const char *s, llama_token **out) {
    int cap = 16, n = 0;
    llama_token *ids = malloc(sizeof(llama_token) * cap);
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > 0x7fffffff) {
            fprintf(stderr, "corvus-logits: bad token list \"%s\" at \"%s\": expected comma-separated non-negative ids\n", s, p);
            free(ids);
            return -1;
        }
        if (n == cap) ids = realloc(ids, sizeof(llama_token) * (cap *= 2));
        ids[n++] = (llama_token) v;
        p = end;
        if (*p == ',') p++;
        else if (*p) {
            fprintf(stderr, "corvus-logits: bad token list \"%s\": unexpected '%c'\n", s, *p);
            free(ids);
            return -1;
        }
    }
    *out = ids;
    return n;
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *tokens_arg = NULL, *out_path = NULL, *text_path = NULL;
    int top = 0, threads = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(a, "-m") && has_value) model_path = argv[++i];
        else if (!strcmp(a, "-t") && has_value) tokens_arg = argv[++i];
        else if (!strcmp(a, "-o") && has_value) out_path = argv[++i];
        else if (!strcmp(a, "-p") && has_value) text_path = argv[++i];
        else if (!strcmp(a, "-k") && has_value) top = atoi(argv[++i]);
        else if (!strcmp(a, "--threads") && has_value) threads = atoi(argv[++i]);
        else if (!strcmp(a, "-v")) verbose = 1;
        else { usage(); return 2; }
    }
    if (!model_path || !(tokens_arg || text_path) || (tokens_arg && text_path) || threads <= 0 || top < 0) { usage(); return 2; }

    llama_log_set(quiet_log, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    mp.vocab_only = text_path != NULL;
    struct llama_model *model = llama_model_load_from_file(model_path, mp);
    if (!model) { fprintf(stderr, "corvus-logits: llama.cpp could not load %s\n", model_path); return 1; }
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    int n_vocab = llama_vocab_n_tokens(vocab);

    if (text_path) {
        long len;
        char *text = read_text(text_path, &len);
        if (!text) return 1;
        int cap = (int) len + 2;
        llama_token *ids = malloc(sizeof(llama_token) * (size_t) cap);
        int n = llama_tokenize(vocab, text, (int32_t) len, ids, cap, true, false);
        if (n < 0) { fprintf(stderr, "corvus-logits: llama_tokenize failed (%d) on %s\n", n, text_path); return 1; }
        for (int i = 0; i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
        printf("\n");
        free(ids);
        free(text);
        llama_model_free(model);
        llama_backend_free();
        return 0;
    }

    llama_token *tokens;
    int n_tokens = parse_tokens(tokens_arg, &tokens);
    if (n_tokens <= 0) { if (n_tokens == 0) fprintf(stderr, "corvus-logits: no tokens given\n"); return 2; }
    for (int i = 0; i < n_tokens; i++) {
        if (tokens[i] >= n_vocab) {
            fprintf(stderr, "corvus-logits: token id %d at index %d is outside the vocabulary [0, %d)\n", tokens[i], i, n_vocab);
            return 2;
        }
    }

    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = n_tokens < 64 ? 64 : (uint32_t) n_tokens;
    cp.n_batch = cp.n_ctx;
    cp.n_ubatch = cp.n_ctx;
    cp.n_seq_max = 1;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    cp.type_k = GGML_TYPE_F32;
    cp.type_v = GGML_TYPE_F32;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.no_perf = true;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) { fprintf(stderr, "corvus-logits: llama.cpp could not make a context for %s\n", model_path); return 1; }

    struct llama_batch batch = llama_batch_init(n_tokens, 0, 1);
    for (int i = 0; i < n_tokens; i++) {
        batch.token[i] = tokens[i];
        batch.pos[i] = i;
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = 0;
        batch.logits[i] = 1;
    }
    batch.n_tokens = n_tokens;
    int rc = llama_decode(ctx, batch);
    if (rc != 0) { fprintf(stderr, "corvus-logits: llama_decode returned %d for %d tokens of %s\n", rc, n_tokens, model_path); return 1; }

    FILE *out = NULL;
    if (out_path && !(out = fopen(out_path, "wb"))) { perror(out_path); return 1; }
    int *order = top > 0 ? malloc(sizeof(int) * (size_t) n_vocab) : NULL;
    for (int i = 0; i < n_tokens; i++) {
        const float *row = llama_get_logits_ith(ctx, i);
        if (!row) { fprintf(stderr, "corvus-logits: no logits for position %d\n", i); return 1; }
        // x86-64 and aarch64 Linux are little-endian, the format the file promises
        if (out && fwrite(row, sizeof(float), (size_t) n_vocab, out) != (size_t) n_vocab) { perror(out_path); return 1; }
        if (top > 0) {
            // partial selection: the k best of n_vocab, ties to the lower id (as corvus logits does)
            int k = top < n_vocab ? top : n_vocab;
            for (int j = 0; j < k; j++) {
                int best = -1;
                for (int v = 0; v < n_vocab; v++) {
                    int taken = 0;
                    for (int q = 0; q < j; q++) if (order[q] == v) { taken = 1; break; }
                    if (!taken && (best < 0 || row[v] > row[best])) best = v;
                }
                order[j] = best;
            }
            printf("%d", i);
            for (int j = 0; j < k; j++) printf(" %d:%.4f", order[j], row[order[j]]);
            printf("\n");
        }
    }
    if (out && fclose(out) != 0) { perror(out_path); return 1; }
    free(order);
    llama_batch_free(batch);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    free(tokens);
    return 0;
}
