package dev.corvus.model.tokenizer;

import dev.corvus.model.Tokenizer.TokenType;
import java.util.BitSet;

/** What every tokenizer shares: the tokens, their kinds and the special ids, as a loader collects them. */
final class Vocab {
    /** Tokens as the GGUF vocabulary spells them. */
    String[] texts;
    TokenType[] types;
    /** Special ids, -1 when absent. */
    int bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, pad = -1;
    boolean addBos, addEos;
    /** End-of-generation tokens. */
    BitSet eog = new BitSet();
    /** Special tokens that strip whitespace left or right of them when found in text (Phi-3's). */
    BitSet lstrip = new BitSet(), rstrip = new BitSet();
    /** False for llama2.c vocabularies, whose encoder never looks for special tokens in text. */
    boolean specialsInText = true;

    int size() {
        return texts.length;
    }
}
