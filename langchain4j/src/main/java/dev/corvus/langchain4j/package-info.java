/**
 * LangChain4j's chat models on Corvus, in process: {@link dev.corvus.langchain4j.CorvusChatModel}
 * and {@link dev.corvus.langchain4j.CorvusStreamingChatModel} load a GGUF file or a llama2.c
 * checkpoint (or share one {@link dev.corvus.langchain4j.CorvusModel}), format the messages with
 * the model's chat template and generate with Corvus's engine. No server and no HTTP.
 */
package dev.corvus.langchain4j;
