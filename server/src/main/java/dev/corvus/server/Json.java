package dev.corvus.server;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.JsonNodeType;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Reading request bodies: strict UTF-8, strict JSON (one object, duplicate keys refused), and
 * typed access to optional fields whose errors name the field and say what was expected.
 * Fields a method is not asked about are ignored, as OpenAI clients send many.
 */
final class Json {
    static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private Json() {}

    /** The body as a JSON object, or a 400 saying why it is not one. */
    static ObjectNode object(byte[] body) {
        String text = utf8(body);
        if (text.isBlank()) throw ApiError.invalid(null, "the request body is empty; expected a JSON object");
        JsonNode node;
        try {
            node = MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr();
            throw ApiError.invalid(null, "the request body is not valid JSON" + where + ": " + e.getOriginalMessage());
        }
        if (!(node instanceof ObjectNode o)) throw ApiError.invalid(null, "the request body is a JSON " + kind(node) + "; expected an object");
        return o;
    }

    private static String utf8(byte[] body) {
        CharsetDecoder d = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(body);
        try {
            return d.decode(in).toString();
        } catch (CharacterCodingException e) {
            // decode() leaves the buffer at the bad sequence
            String what = e instanceof MalformedInputException m ? "an invalid " + m.getInputLength() + "-byte sequence" : "a malformed sequence";
            throw ApiError.invalid(null, "the request body is not valid UTF-8: " + what + " at byte " + in.position());
        }
    }

    /** The field's value, or null when it is absent or JSON null. */
    static JsonNode field(JsonNode o, String name) {
        JsonNode v = o.get(name);
        return v == null || v.isNull() ? null : v;
    }

    static String string(JsonNode o, String name, String param) {
        JsonNode v = field(o, name);
        if (v == null) return null;
        if (!v.isTextual()) throw wrongType(param, v, "a string");
        return v.asText();
    }

    static Boolean bool(JsonNode o, String name) {
        JsonNode v = field(o, name);
        if (v == null) return null;
        if (!v.isBoolean()) throw wrongType(name, v, "true or false");
        return v.booleanValue();
    }

    /** A number within [min, max]. */
    static Double number(JsonNode o, String name, double min, double max) {
        JsonNode v = field(o, name);
        if (v == null) return null;
        if (!v.isNumber()) throw wrongType(name, v, "a number");
        double d = v.doubleValue();
        if (!(d >= min && d <= max)) {
            throw ApiError.invalid(name, name + " is " + v + "; expected a number from " + fmt(min) + " to " + fmt(max));
        }
        return d;
    }

    /** An integer within [min, max] (2.0 counts; 2.5 does not). */
    static Long integer(JsonNode o, String name, long min, long max) {
        JsonNode v = field(o, name);
        if (v == null) return null;
        if (!v.isNumber() || !(v.isIntegralNumber() || v.doubleValue() == Math.rint(v.doubleValue())) || !v.canConvertToLong()) {
            throw wrongType(name, v, "an integer");
        }
        long n = v.asLong();
        if (n < min || n > max) throw ApiError.invalid(name, name + " is " + v + "; expected an integer from " + min + " to " + max);
        return n;
    }

    static ApiError wrongType(String param, JsonNode v, String expected) {
        String shown = v.toString();
        if (shown.length() > 40) shown = shown.substring(0, 37) + "...";
        return ApiError.invalid(param, param + " is a JSON " + kind(v) + " (" + shown + "); expected " + expected);
    }

    static String kind(JsonNode v) {
        JsonNodeType t = v.getNodeType();
        return switch (t) {
            case ARRAY -> "array";
            case OBJECT, POJO -> "object";
            case STRING -> "string";
            case NUMBER -> "number";
            case BOOLEAN -> "boolean";
            case NULL, MISSING -> "null";
            case BINARY -> "binary value";
        };
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : String.format(Locale.ROOT, "%s", d);
    }
}
