package dev.corvus.comm;

/** What a byte was sent for. */
public enum OpKind {
    SEND, ALL_GATHER, REDUCE_SCATTER, ALL_TO_ALL, ALL_REDUCE, BARRIER
}
