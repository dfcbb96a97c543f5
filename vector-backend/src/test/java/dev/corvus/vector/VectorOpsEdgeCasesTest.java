package dev.corvus.vector;

import dev.corvus.tensor.OpsEdgeCasesTest;

/**
 * {@link OpsEdgeCasesTest} on the selected backend of this module's runs (vector, vector capped at
 * 256 bits, scalar): the vector kernels failed a sum over an empty dim with "has 2 elements,
 * expected 0" before Ops answered it without them.
 */
class VectorOpsEdgeCasesTest extends OpsEdgeCasesTest {}
