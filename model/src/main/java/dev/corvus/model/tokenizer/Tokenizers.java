package dev.corvus.model.tokenizer;

import dev.corvus.model.CheckpointException;
import dev.corvus.model.Tokenizer;
import dev.corvus.model.Tokenizer.TokenType;
import dev.corvus.model.gguf.GgufReader;
import dev.corvus.model.gguf.GgufValueType;
import dev.corvus.model.gguf.GgufWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Tokenizers from GGUF metadata ({@code tokenizer.ggml.*}) and back, following llama.cpp's
 * vocabulary loader: the model and pre-tokenizer by name, special ids with llama.cpp's defaults,
 * end-of-turn tokens recognised by their text, and the set of end-of-generation tokens.
 */
public final class Tokenizers {
    static final String MODEL = "tokenizer.ggml.model", PRE = "tokenizer.ggml.pre", TOKENS = "tokenizer.ggml.tokens",
            TYPES = "tokenizer.ggml.token_type", SCORES = "tokenizer.ggml.scores", MERGES = "tokenizer.ggml.merges";

    // ---------------------------------------------------------------- pre-tokenizers

    // the expressions are the models' own (their tokenizer.json), with (?i:...) spelled out as
    // llama.cpp does, since both engines must agree on them
    private static final String CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
    private static final String LLAMA3 = CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String QWEN2 = CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String QWEN35 = CONTRACTIONS
            + "|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
    private static final Map<String, BpeTokenizer.Flavor> FLAVORS = new LinkedHashMap<>();

    private static void flavor(List<String> names, List<String> regexes, boolean ignoreMerges) {
        for (String name : names) FLAVORS.put(name, new BpeTokenizer.Flavor(name, regexes, ignoreMerges, true, false));
    }

    static {
        flavor(List.of("llama-bpe", "llama3", "llama-v3", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"), List.of(LLAMA3), true);
        flavor(List.of("dbrx", "smaug-bpe"), List.of(LLAMA3), false);
        flavor(List.of("qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "hunyuan", "solar-open"), List.of(QWEN2), false);
        flavor(List.of("qwen35"), List.of(QWEN35), false);
        flavor(List.of("gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum", "modern-bert", "mpt", "olmo",
                "jais", "trillion", "granite-docling", "exaone4"), List.of(GPT2), false);
        flavor(List.of("starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2"), List.of("\\p{N}", GPT2), false);
        flavor(List.of("falcon"), List.of("[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2, "[0-9][0-9][0-9]"), false);
        // non-ASCII characters as escapes: an editor's Unicode normalisation must not change them (U+1FD3 is not U+0390)
        String cjk = "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+";
        flavor(List.of("deepseek-coder"), List.of("[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", cjk, "\\p{N}"), false);
        flavor(List.of("deepseek-llm"), List.of("[\r\n]",
                "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+",
                "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+", "\\s+$", cjk, "\\p{N}+"), false);
        // llama.cpp's fallback for a BPE vocabulary without tokenizer.ggml.pre (it warns that quality suffers)
        flavor(List.of("default"), List.of("[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2, "\\p{N}+", "[0-9][0-9][0-9]"), false);
    }

    /** Gemma 4 (tokenizer.ggml.model "gemma4"): BPE over U+2581-spelled text, split only at newlines. */
    private static final BpeTokenizer.Flavor GEMMA4 = new BpeTokenizer.Flavor("gemma4", List.of("[^\\n]+|[\\n]+"), false, false, true);

    /** The tokenizer.ggml.pre values {@link #fromGguf} reads for tokenizer.ggml.model "gpt2". */
    public static List<String> supportedPreTokenizers() {
        return List.copyOf(FLAVORS.keySet());
    }

    private Tokenizers() {}

    // ---------------------------------------------------------------- reading

    /**
     * The vocabulary a GGUF carries, or null when it has none (no tokenizer.ggml.model and no
     * tokens, or model "none"). tokenizer.ggml.model "llama" is SentencePiece, "gpt2" byte-level
     * BPE with the pre-tokenizer tokenizer.ggml.pre names, "gemma4" Gemma 4's BPE; anything else
     * is refused by name.
     */
    public static Tokenizer fromGguf(GgufReader gguf) throws CheckpointException {
        Path file = gguf.file();
        if (!gguf.has(MODEL)) {
            if (!gguf.has(TOKENS)) return null;
            throw new CheckpointException(file, TOKENS + " is present but " + MODEL + " is missing");
        }
        String model = gguf.getString(MODEL);
        if (model.equals("none") || model.equals("no_vocab")) return null;
        if (!model.equals("llama") && !model.equals("gpt2") && !model.equals("gemma4")) {
            throw new CheckpointException(file, MODEL + " is \"" + model + "\"; Corvus reads \"llama\" (SentencePiece), \"gpt2\" (byte-level BPE) and \"gemma4\"");
        }
        BpeTokenizer.Flavor flavor = null;
        if (model.equals("gpt2")) {
            String pre = gguf.has(PRE) ? gguf.getString(PRE) : "default";
            flavor = FLAVORS.get(pre);
            if (flavor == null) {
                throw new CheckpointException(file, PRE + " is \"" + pre + "\", a pre-tokenizer Corvus does not know; it reads " + String.join(", ", FLAVORS.keySet()));
            }
        } else if (model.equals("gemma4")) {
            flavor = GEMMA4;
        }

        String[] tokens = gguf.getStringArray(TOKENS).clone();
        int n = tokens.length;
        if (n == 0) throw new CheckpointException(file, TOKENS + " is empty");
        Map<String, Integer> ids = HashMap.newHashMap(n);
        for (int i = 0; i < n; i++) {
            if (tokens[i].isEmpty()) tokens[i] = "[EMPTY_" + i + "]"; // as llama.cpp, so that every token has a distinct text
            Integer twice = ids.putIfAbsent(tokens[i], i);
            if (twice != null) throw new CheckpointException(file, TOKENS + " holds \"" + tokens[i] + "\" twice, as tokens " + twice + " and " + i);
        }
        TokenType[] types = new TokenType[n];
        if (gguf.has(TYPES)) {
            int[] typeIds = gguf.getIntArray(TYPES);
            if (typeIds.length != n) throw new CheckpointException(file, TYPES + " has " + typeIds.length + " entries but " + TOKENS + " has " + n);
            for (int i = 0; i < n; i++) types[i] = TokenType.of(typeIds[i]);
        } else {
            for (int i = 0; i < n; i++) types[i] = model.equals("llama") && Tokenizer.parseByteToken(tokens[i]) >= 0 ? TokenType.BYTE : TokenType.NORMAL;
        }

        Vocab v = new Vocab();
        v.texts = tokens;
        v.types = types;
        boolean spm = model.equals("llama");
        // llama.cpp's defaults, kept only where they lie inside the vocabulary
        v.bos = spm ? 1 : model.equals("gpt2") ? 11 : -1;
        v.eos = spm ? 2 : model.equals("gpt2") ? 11 : -1;
        v.unk = spm ? 0 : -1;
        v.addBos = spm || (flavor != null && flavor.ignoreMerges()); // SentencePiece and Llama 3 ask for BOS unless told otherwise
        v.addEos = false;
        boolean addSpacePrefix = spm;
        int fimPad = -1, fimRep = -1, fimSep = -1;
        v.bos = specialId(gguf, "tokenizer.ggml.bos_token_id", v.bos, n);
        v.eos = specialId(gguf, "tokenizer.ggml.eos_token_id", v.eos, n);
        v.eot = specialId(gguf, "tokenizer.ggml.eot_token_id", -1, n);
        v.eom = specialId(gguf, "tokenizer.ggml.eom_token_id", -1, n);
        v.unk = specialId(gguf, "tokenizer.ggml.unknown_token_id", v.unk, n);
        v.pad = specialId(gguf, "tokenizer.ggml.padding_token_id", -1, n);
        int fimPre = specialId(gguf, "tokenizer.ggml.fim_pre_token_id", specialId(gguf, "tokenizer.ggml.prefix_token_id", -1, n), n);
        int fimSuf = specialId(gguf, "tokenizer.ggml.fim_suf_token_id", specialId(gguf, "tokenizer.ggml.suffix_token_id", -1, n), n);
        int fimMid = specialId(gguf, "tokenizer.ggml.fim_mid_token_id", specialId(gguf, "tokenizer.ggml.middle_token_id", -1, n), n);
        fimPad = specialId(gguf, "tokenizer.ggml.fim_pad_token_id", fimPad, n);
        fimRep = specialId(gguf, "tokenizer.ggml.fim_rep_token_id", fimRep, n);
        fimSep = specialId(gguf, "tokenizer.ggml.fim_sep_token_id", fimSep, n);
        v.addBos = bool(gguf, "tokenizer.ggml.add_bos_token", v.addBos);
        v.addEos = bool(gguf, "tokenizer.ggml.add_eos_token", v.addEos);
        addSpacePrefix = bool(gguf, "tokenizer.ggml.add_space_prefix", addSpacePrefix);
        if (flavor == GEMMA4) v.addBos = true; // llama.cpp overrides Gemma 4's metadata here
        // FIM tokens found by text become control tokens, which matters for parsing text without special tokens
        if (fimPre < 0) firstOf(v, ids, FIM_PRE_TEXTS, true);
        if (fimSuf < 0) firstOf(v, ids, FIM_SUF_TEXTS, true);
        if (fimMid < 0) firstOf(v, ids, FIM_MID_TEXTS, true);
        endOfGeneration(v, ids, fimPad, fimRep, fimSep);
        if (gguf.has("general.name")) {
            String name = String.valueOf(gguf.metadata().get("general.name")).toLowerCase(Locale.ROOT);
            if (name.contains("phi-3") || name.contains("phi3")) phi3Strips(v, ids);
        }

        try {
            if (spm) {
                float[] scores = gguf.has(SCORES) ? gguf.getFloatArray(SCORES) : new float[n];
                if (scores.length != n) throw new CheckpointException(file, SCORES + " has " + scores.length + " entries but " + TOKENS + " has " + n);
                return SentencePieceTokenizer.gguf(v, scores, addSpacePrefix);
            }
            return bpe(gguf, v, ids, flavor);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file, "bad vocabulary in tokenizer.ggml.*: " + e.getMessage(), e);
        }
    }

    private static BpeTokenizer bpe(GgufReader gguf, Vocab v, Map<String, Integer> ids, BpeTokenizer.Flavor flavor) throws CheckpointException {
        Path file = gguf.file();
        if (!gguf.has(MERGES)) throw new CheckpointException(file, MERGES + " is missing; a BPE vocabulary needs its merges");
        String[] merges = gguf.getStringArray(MERGES);
        int[] left = new int[merges.length], right = new int[merges.length], result = new int[merges.length];
        for (int r = 0; r < merges.length; r++) {
            String m = merges[r];
            int space = m.indexOf(' ', 1); // from 1, as llama.cpp: a leading space belongs to the left part
            if (space < 0) throw new CheckpointException(file, MERGES + "[" + r + "] is \"" + m + "\", not two tokens separated by a space");
            String a = m.substring(0, space), b = m.substring(space + 1);
            left[r] = mergeToken(file, ids, r, m, a);
            right[r] = mergeToken(file, ids, r, m, b);
            result[r] = mergeToken(file, ids, r, m, a + b);
        }
        return new BpeTokenizer(v, flavor, left, right, result);
    }

    private static int mergeToken(Path file, Map<String, Integer> ids, int r, String merge, String text) throws CheckpointException {
        Integer id = ids.get(text);
        if (id == null) throw new CheckpointException(file, MERGES + "[" + r + "] \"" + merge + "\" names \"" + text + "\", which is not in " + TOKENS);
        return id;
    }

    /** A special id from metadata; as llama.cpp, one outside the vocabulary leaves the default. */
    private static int specialId(GgufReader gguf, String key, int fallback, int n) throws CheckpointException {
        int def = fallback >= 0 && fallback < n ? fallback : -1;
        if (!gguf.has(key)) return def;
        long id = gguf.getLong(key);
        return id >= 0 && id < n ? (int) id : def;
    }

    private static boolean bool(GgufReader gguf, String key, boolean fallback) throws CheckpointException {
        Object value = gguf.metadata().get(key);
        if (value == null) return fallback;
        if (value instanceof Boolean b) return b;
        throw new CheckpointException(gguf.file(), "metadata \"" + key + "\" is " + gguf.type(key) + ", expected a bool");
    }

    /** Texts llama.cpp takes for end of turn when tokenizer.ggml.eot_token_id is absent, in order of preference. */
    private static final List<String> EOT_TEXTS = List.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
            "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>");
    /** Texts of the FIM tokens, as llama.cpp recognises them; it ends generation at pad, repository and file separator. */
    private static final List<String> FIM_PRE_TEXTS = List.of("<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
            "<|code_prefix|>", "<|prefix|>");
    private static final List<String> FIM_SUF_TEXTS = List.of("<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
            "<|code_suffix|>", "<|suffix|>");
    private static final List<String> FIM_MID_TEXTS = List.of("<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>",
            "<|code_middle|>", "<|middle|>");
    private static final List<String> FIM_PAD_TEXTS = List.of("<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]");
    private static final List<String> FIM_REP_TEXTS = List.of("<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>");
    private static final List<String> FIM_SEP_TEXTS = List.of("<|file_sep|>");
    /** Texts that end generation wherever they are, as llama.cpp's loader lists them. */
    private static final List<String> EOG_TEXTS = List.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
            "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>",
            "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[");

    /**
     * EOT and EOM by text when metadata names none, and the end-of-generation set: EOS, EOT,
     * EOM, the FIM pad/repo/separator tokens and every token spelled as in {@link #EOG_TEXTS}.
     * Tokens found by text become control tokens, as llama.cpp makes them.
     */
    private static void endOfGeneration(Vocab v, Map<String, Integer> ids, int fimPad, int fimRep, int fimSep) {
        if (v.eot < 0) v.eot = firstOf(v, ids, EOT_TEXTS, true);
        if (v.eom < 0) v.eom = firstOf(v, ids, List.of("<|eom_id|>"), true);
        if (fimPad < 0) fimPad = firstOf(v, ids, FIM_PAD_TEXTS, true);
        if (fimRep < 0) fimRep = firstOf(v, ids, FIM_REP_TEXTS, true);
        if (fimSep < 0) fimSep = firstOf(v, ids, FIM_SEP_TEXTS, true);
        for (int id : new int[] {fimPad, fimRep, fimSep, v.eos, v.eot, v.eom}) if (id >= 0) v.eog.set(id);
        for (String text : EOG_TEXTS) {
            Integer id = ids.get(text);
            if (id == null) continue;
            v.eog.set(id);
            v.types[id] = TokenType.CONTROL;
        }
        // gpt-oss renders these, so they must not be control tokens
        for (String text : List.of("<|channel|>", "<|message|>", "<|start|>", "<|constrain|>")) {
            Integer id = ids.get(text);
            if (id != null) v.types[id] = TokenType.USER_DEFINED;
        }
        // o200k_harmony and solar-open end a message with <|end|> but only a turn with <|return|>/<|call|>
        Integer end = ids.get("<|end|>");
        if (end != null && v.eog.get(end) && ((has(v, ids, "<|return|>") && has(v, ids, "<|call|>")) || (has(v, ids, "<|calls|>") && has(v, ids, "<|flush|>")))) {
            v.eog.clear(end);
            v.types[end] = TokenType.USER_DEFINED;
        }
        // Gemma 4 and PaddleOCR: </s> is not the end there
        Integer s = ids.get("</s>");
        if (s != null && v.eog.get(s) && has(v, ids, "<|tool_response>")) {
            v.eog.clear(s);
            v.types[s] = TokenType.NORMAL;
        }
    }

    private static boolean has(Vocab v, Map<String, Integer> ids, String text) {
        Integer id = ids.get(text);
        return id != null && v.eog.get(id);
    }

    private static int firstOf(Vocab v, Map<String, Integer> ids, List<String> texts, boolean makeControl) {
        for (String text : texts) {
            Integer id = ids.get(text);
            if (id != null) {
                if (makeControl) v.types[id] = TokenType.CONTROL;
                return id;
            }
        }
        return -1;
    }

    /** Phi-3's special tokens swallow the whitespace after them, except &lt;unk&gt;, &lt;s&gt; and &lt;|endoftext|&gt;. */
    private static void phi3Strips(Vocab v, Map<String, Integer> ids) {
        for (int id = 0; id < v.size(); id++) {
            TokenType t = v.types[id];
            if (t == TokenType.CONTROL || t == TokenType.USER_DEFINED || t == TokenType.UNKNOWN) v.rstrip.set(id);
        }
        Integer s = ids.get("</s>");
        if (s != null) v.rstrip.set(s);
        for (String text : List.of("<unk>", "<s>", "<|endoftext|>")) {
            Integer id = ids.get(text);
            if (id != null) v.rstrip.clear(id);
        }
    }

    // ---------------------------------------------------------------- writing

    /** Writes {@code t} as tokenizer.ggml.* metadata that {@link #fromGguf} reads back to the same tokenizer. */
    public static void toGguf(GgufWriter g, Tokenizer t) {
        int n = t.vocabSize();
        String[] tokens = new String[n];
        int[] types = new int[n];
        for (int id = 0; id < n; id++) {
            tokens[id] = t.tokenText(id);
            types[id] = t.type(id).id();
        }
        if (t instanceof BpeTokenizer bpe) {
            g.putString(MODEL, bpe.byteLevel() ? "gpt2" : "gemma4");
            if (bpe.byteLevel()) g.putString(PRE, bpe.pre());
            g.putArray(MERGES, GgufValueType.STRING, bpe.merges());
        } else {
            float[] scores = new float[n];
            for (int id = 0; id < n; id++) scores[id] = t.score(id);
            g.putString(MODEL, "llama").putArray(SCORES, GgufValueType.FLOAT32, scores);
            if (t instanceof SentencePieceTokenizer spm) g.putBool("tokenizer.ggml.add_space_prefix", spm.addSpacePrefix());
        }
        g.putArray(TOKENS, GgufValueType.STRING, tokens).putArray(TYPES, GgufValueType.INT32, types);
        String[] keys = {"bos", "eos", "eot", "eom", "unknown", "padding"};
        int[] values = {t.bosId(), t.eosId(), t.eotId(), t.eomId(), t.unknownId(), t.padId()};
        for (int i = 0; i < keys.length; i++) if (values[i] >= 0) g.putUInt32("tokenizer.ggml." + keys[i] + "_token_id", values[i]);
        g.putBool("tokenizer.ggml.add_bos_token", t.addBos()).putBool("tokenizer.ggml.add_eos_token", t.addEos());
    }
}
