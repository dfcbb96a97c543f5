package dev.corvus.model.tokenizer;

import dev.corvus.model.Tokenizer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Byte-level BPE (GPT-2, Llama 3, Qwen2, ...; llama.cpp's BPE tokenizer): the pre-tokenizer
 * splits the text into words, each word's UTF-8 bytes are spelled with GPT-2's byte characters,
 * and within a word the adjacent pair with the lowest merge rank is merged (leftmost on ties)
 * until no pair has a rank. Gemma 4's variant skips the byte spelling: spaces become U+2581,
 * characters that are not tokens fall back to byte tokens.
 */
public final class BpeTokenizer extends AbstractTokenizer {
    /** How one tokenizer.ggml.pre value tokenizes; {@code regexes} run in turn. */
    record Flavor(String pre, List<String> regexes, boolean ignoreMerges, boolean byteLevel, boolean newlineRunsWhole) {}

    private final Flavor flavor;
    private final PreTokenizer preTokenizer;
    private final Map<String, Integer> ids;
    private final int[] bmpToken; // single BMP character -> token, -1 if none
    /** Merge rank by pair of token ids, and each rank's pair and result. */
    private final LongIntMap ranks;
    private final int[] mergeLeft, mergeRight, mergeResult;
    private final int[] tokenByte;
    private final int[] byteToken = new int[256];

    /**
     * @param merges for each rank the left and right token and what they merge into, validated
     *               by the caller (a pair listed twice keeps its first rank)
     */
    BpeTokenizer(Vocab v, Flavor flavor, int[] mergeLeft, int[] mergeRight, int[] mergeResult) {
        super(v, pieces(v, flavor));
        int n = v.size();
        this.flavor = flavor;
        this.preTokenizer = new PreTokenizer(flavor.regexes());
        this.ids = HashMap.newHashMap(n);
        this.bmpToken = new int[Character.MAX_VALUE + 1];
        Arrays.fill(bmpToken, -1);
        this.tokenByte = new int[n];
        for (int id = 0; id < n; id++) {
            String text = v.texts[id];
            ids.put(text, id);
            if (text.length() == 1) bmpToken[text.charAt(0)] = id;
            tokenByte[id] = v.types[id] == TokenType.BYTE ? Tokenizer.parseByteToken(text) : -1;
        }
        for (int b = 0; b < 256; b++) byteToken[b] = ids.getOrDefault(Tokenizer.byteTokenText(b), -1);
        this.mergeLeft = mergeLeft.clone();
        this.mergeRight = mergeRight.clone();
        this.mergeResult = mergeResult.clone();
        this.ranks = new LongIntMap(mergeLeft.length);
        for (int r = 0; r < mergeLeft.length; r++) ranks.putIfAbsent(pair(mergeLeft[r], mergeRight[r]), r);
    }

    private static byte[][] pieces(Vocab v, Flavor flavor) {
        byte[][] pieces = new byte[v.size()][];
        for (int id = 0; id < pieces.length; id++) {
            String text = v.texts[id];
            pieces[id] = switch (v.types[id]) {
                case NORMAL -> flavor.byteLevel() ? ByteLevel.decode(text) : text.replace('\u2581', ' ').getBytes(StandardCharsets.UTF_8);
                case BYTE -> {
                    int b = Tokenizer.parseByteToken(text);
                    yield b >= 0 ? new byte[] {(byte) b} : text.getBytes(StandardCharsets.UTF_8);
                }
                default -> text.getBytes(StandardCharsets.UTF_8);
            };
        }
        return pieces;
    }

    private static long pair(int left, int right) {
        return (long) left << 32 | right;
    }

    /** The tokenizer.ggml.pre value this tokenizer follows. */
    public String pre() {
        return flavor.pre();
    }

    /** Whether tokens spell bytes with GPT-2's characters (false: Gemma 4's U+2581 spelling). */
    public boolean byteLevel() {
        return flavor.byteLevel();
    }

    /** The merges in rank order, as tokenizer.ggml.merges spells them ("left right"). */
    public String[] merges() {
        String[] out = new String[mergeLeft.length];
        for (int r = 0; r < out.length; r++) out[r] = texts[mergeLeft[r]] + " " + texts[mergeRight[r]];
        return out;
    }

    @Override
    public float score(int id) {
        checkId(id);
        return 0;
    }

    @Override
    public int byteValue(int id) {
        return tokenByte[checkId(id)];
    }

    // ---------------------------------------------------------------- encoding

    @Override
    void encodeText(String text, boolean afterSpecial, IntList out) {
        String t = flavor.byteLevel() ? text : text.replace(' ', '\u2581');
        for (String word : preTokenizer.split(t)) {
            String w = flavor.byteLevel() ? ByteLevel.encode(word) : word;
            if (flavor.ignoreMerges() || (flavor.newlineRunsWhole() && w.chars().allMatch(c -> c == '\n'))) {
                Integer id = ids.get(w);
                if (id != null) {
                    out.add(id);
                    continue;
                }
            }
            merge(w, out);
        }
    }

    private int tokenOf(String s, int from, int to) {
        if (to - from == 1) return bmpToken[s.charAt(from)];
        return ids.getOrDefault(s.substring(from, to), -1);
    }

    /** BPE within one word: lowest rank first, leftmost on ties. */
    private void merge(String w, IntList out) {
        int n = w.codePointCount(0, w.length());
        if (n == 0) return;
        int[] id = new int[n], next = new int[n], prev = new int[n], start = new int[n + 1];
        for (int i = 0, c = 0; i < n; i++) {
            int end = c + Character.charCount(w.codePointAt(c));
            start[i] = c;
            id[i] = tokenOf(w, c, end);
            c = end;
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        start[n] = w.length();
        boolean[] dead = new boolean[n];
        LongHeap heap = new LongHeap(n);
        for (int i = 0; i + 1 < n; i++) push(heap, id, i, i + 1);
        while (!heap.isEmpty()) {
            long key = heap.pop();
            int rank = (int) (key >>> 32), l = (int) key, r = next[l];
            // stale: the left symbol was merged away, or either side changed since the pair was pushed
            if (dead[l] || r < 0 || id[l] != mergeLeft[rank] || id[r] != mergeRight[rank]) continue;
            id[l] = mergeResult[rank];
            dead[r] = true;
            next[l] = next[r];
            if (next[r] >= 0) prev[next[r]] = l;
            push(heap, id, prev[l], l);
            push(heap, id, l, next[l]);
        }
        for (int i = 0; i >= 0; i = next[i]) {
            if (id[i] >= 0) {
                out.add(id[i]);
            } else if (!flavor.byteLevel()) { // a character that is no token: its bytes' tokens
                for (byte b : w.substring(start[i], start[i + 1]).getBytes(StandardCharsets.UTF_8)) {
                    if (byteToken[b & 0xFF] >= 0) out.add(byteToken[b & 0xFF]);
                }
            } // a byte-level character that is no token has no spelling (llama.cpp drops it too)
        }
    }

    private void push(LongHeap heap, int[] id, int l, int r) {
        if (l < 0 || r < 0 || id[l] < 0 || id[r] < 0) return;
        int rank = ranks.get(pair(id[l], id[r]));
        if (rank >= 0) heap.push((long) rank << 32 | l);
    }

    /** A binary min-heap of longs. */
    private static final class LongHeap {
        private long[] a;
        private int size;

        LongHeap(int capacity) {
            a = new long[Math.max(4, capacity)];
        }

        boolean isEmpty() {
            return size == 0;
        }

        void push(long v) {
            if (size == a.length) a = Arrays.copyOf(a, size * 2);
            int i = size++;
            while (i > 0) {
                int p = (i - 1) >>> 1;
                if (a[p] <= v) break;
                a[i] = a[p];
                i = p;
            }
            a[i] = v;
        }

        long pop() {
            long top = a[0], v = a[--size];
            int i = 0;
            while (true) {
                int c = 2 * i + 1;
                if (c >= size) break;
                if (c + 1 < size && a[c + 1] < a[c]) c++;
                if (v <= a[c]) break;
                a[i] = a[c];
                i = c;
            }
            a[i] = v;
            return top;
        }
    }
}
