package dev.corvus.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.engine.SamplingOptions;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The streamed text chunk, written from a cached frame, is byte for byte what Jackson writes for its map. */
class AnswerTest {
    private static final List<String> TEXTS = List.of("", " Once", "a\"b\\c/d", "line\nbreak\ttab\r\u0000\u0001\u001f\u007f",
            "caf\u00e9 \u4e2d\u6587 \ud83d\ude00", "\ud800", "</script>\u2028\u2029", "\\u0000corvus-text\\u0000", "\u0000corvus-text\u0000");

    @ParameterizedTest
    @CsvSource({"false,false", "false,true", "true,false", "true,true"})
    void textChunkIsWhatJacksonWrites(boolean chat, boolean includeUsage) throws Exception {
        Requests.Call call = new Requests.Call(chat, true, includeUsage, new int[] {1}, 16, SamplingOptions.greedy(), List.of());
        Answer answer = new Answer(call, "cmpl-\"odd\u00e9id", 1_700_000_000L, "model \"with\" quotes\n");
        for (String text : TEXTS) {
            assertThat(answer.textChunk(text)).as("%s", text).isEqualTo(Json.MAPPER.writeValueAsString(answer.textChunkMap(text)));
        }
    }
}
