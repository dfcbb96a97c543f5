/**
 * One loaded model serving many generations: {@link dev.corvus.engine.Engine} takes
 * {@link dev.corvus.engine.GenerationRequest}s (prompt tokens, a token budget,
 * {@link dev.corvus.engine.SamplingOptions}, stop strings, a timeout) into a bounded queue and
 * streams each one's text to its {@link dev.corvus.engine.GenerationListener}; the
 * {@link dev.corvus.engine.Generation} handle cancels it. What the server, the LangChain4j models
 * and {@code corvus chat} run on. Dependency-free, like every core module.
 */
package dev.corvus.engine;
