package dev.corvus.chunking;

/** The part of a chunked node one loop iteration computes: [start, start + length) along dim. */
record Slice(int dim, int start, int length) {}
