package dev.corvus.chat;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.el.ExtendedSyntaxBuilder;
import com.hubspot.jinjava.el.TruthyTypeConverter;
import com.hubspot.jinjava.el.ext.AstNamedParameter;
import com.hubspot.jinjava.el.ext.AstRangeBracket;
import com.hubspot.jinjava.el.ext.ExtendedParser;
import com.hubspot.jinjava.el.ext.ExtendedScanner;
import com.hubspot.jinjava.el.ext.NamedParameterOperator;
import com.hubspot.jinjava.objects.SafeString;
import com.hubspot.jinjava.objects.collections.PyList;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import jinjava.de.odysseus.el.ExpressionFactoryImpl;
import jinjava.de.odysseus.el.tree.Bindings;
import jinjava.de.odysseus.el.tree.TreeStore;
import jinjava.de.odysseus.el.tree.impl.Builder;
import jinjava.de.odysseus.el.tree.impl.Cache;
import jinjava.de.odysseus.el.tree.impl.Parser;
import jinjava.de.odysseus.el.tree.impl.Scanner;
import jinjava.de.odysseus.el.misc.NumberOperations;
import jinjava.de.odysseus.el.tree.impl.ast.AstBinary;
import jinjava.de.odysseus.el.tree.impl.ast.AstIdentifier;
import jinjava.de.odysseus.el.tree.impl.ast.AstNode;
import jinjava.de.odysseus.el.tree.impl.ast.AstRightValue;
import jinjava.de.odysseus.el.tree.impl.ast.AstUnary;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELException;
import jinjava.javax.el.ExpressionFactory;

/**
 * Jinjava with its expression grammar brought closer to Jinja's where chat templates need it
 * (each of these fails to parse or evaluates wrongly in Jinjava 2.8.4; the tests render the real
 * templates that hit them):
 *
 * <ul>
 *   <li>A keyword argument's value is a whole expression. Jinjava parses {@code name=value} at
 *       the precedence of {@code +}, so {@code namespace(last_query_index=messages|length - 1)}
 *       (Qwen3) became {@code (last_query_index=messages|length) - 1}; here {@code =} binds more
 *       loosely than {@code or}.
 *   <li>{@code x+1} is an addition. Jinjava's scanner reads {@code +1} as a unary operator
 *       token wherever it appears, so {@code ns.last+1} (Kimi K2) did not parse; here a
 *       {@code +} right after an operand is the binary plus.
 *   <li>Slices are Python's: {@code [start:stop:step]}, negative steps and out-of-range bounds
 *       included ({@code messages[::-1]}, Qwen3's way of finding the last user turn). Jinjava
 *       has no step and mishandles some negative bounds.
 *   <li>{@code not} binds more loosely than comparisons, as in Python: Jinjava read
 *       {@code not thinking_budget == -1} (Seed-OSS) as {@code (not thinking_budget) == -1}.
 *   <li>{@code "    " * depth} repeats the string (functionary's and Reka's templates); Jinjava
 *       only multiplies numbers.
 * </ul>
 */
final class PyJinjava extends Jinjava {
    private final ExpressionFactory expressions = new ExpressionFactoryImpl(
            // the features and cache size Jinjava's own factory gets from the JEE6 profile and defaults
            new TreeStore(new SyntaxBuilder(Builder.Feature.METHOD_INVOCATIONS, Builder.Feature.VARARGS), new Cache(1000)),
            new TruthyTypeConverter());

    PyJinjava(JinjavaConfig config) {
        super(config);
    }

    @Override
    public ExpressionFactory getExpressionFactory() {
        return expressions;
    }

    private static final class SyntaxBuilder extends ExtendedSyntaxBuilder {
        private static final long serialVersionUID = 1L;

        SyntaxBuilder(Builder.Feature... features) {
            super(features);
        }

        @Override
        protected Parser createParser(String expression) {
            return new PyParser(this, expression);
        }
    }

    /** The second colon of a slice, after a stop ({@code [a:b:c]}) or right after the first ({@code [a::c]}). */
    private static final Scanner.ExtensionToken STEP_AFTER_STOP = new Scanner.ExtensionToken(":");
    private static final Scanner.ExtensionToken STEP_NO_STOP = new Scanner.ExtensionToken(":");

    private static final class PyParser extends ExtendedParser {
        PyParser(Builder context, String input) {
            super(context, input);
            putExtensionHandler(NamedParameterOperator.TOKEN, new Parser.ExtensionHandler(Parser.ExtensionPoint.OR) {
                @Override
                public AstNode createAstNode(AstNode... children) {
                    if (!(children[0] instanceof AstIdentifier name)) throw new ELException("Expected IDENTIFIER, found " + children[0]);
                    return new AstNamedParameter(name, children[1]);
                }
            });
            // [a:b:c]: the stop was parsed, the step follows at the level of `or`
            putExtensionHandler(STEP_AFTER_STOP, new Parser.ExtensionHandler(Parser.ExtensionPoint.OR) {
                @Override
                public AstNode createAstNode(AstNode... children) {
                    return new StopAndStep(children[0], children[1]);
                }
            });
            // [a::c] and [::c]: no stop; the step (or nothing) follows
            putExtensionHandler(STEP_NO_STOP, new Parser.ExtensionHandler(Parser.ExtensionPoint.LITERAL) {
                @Override
                public AstNode createAstNode(AstNode... children) {
                    try {
                        return new StopAndStep(null, expr(false));
                    } catch (Scanner.ScanException | Parser.ParseException e) {
                        throw new ELException(e.getMessage());
                    }
                }
            });
        }

        @Override
        protected AstBinary createAstBinary(AstNode left, AstNode right, AstBinary.Operator operator) {
            return super.createAstBinary(left, right, operator == AstBinary.MUL ? REPEAT_OR_MUL : operator);
        }

        /** {@code not} binds more loosely than comparisons: {@code not x == -1} is {@code not (x == -1)}. */
        @Override
        protected AstNode eq(boolean required) throws Scanner.ScanException, Parser.ParseException {
            if (getToken().getSymbol() == Scanner.Symbol.NOT) {
                consumeToken();
                return createAstUnary(eq(true), AstUnary.NOT);
            }
            return super.eq(required);
        }

        @Override
        protected Scanner createScanner(String expression) {
            return new PyScanner(expression);
        }

        @Override
        protected AstRangeBracket createAstRangeBracket(AstNode base, AstNode start, AstNode stop, boolean lvalue, boolean strict) {
            boolean ignoreReturnType = context.isEnabled(Builder.Feature.IGNORE_RETURN_TYPE);
            if (stop instanceof StopAndStep s) return new Slice(base, start, s.stop, s.step, lvalue, strict, ignoreReturnType);
            return new Slice(base, start, stop, null, lvalue, strict, ignoreReturnType);
        }
    }

    private static final class PyScanner extends ExtendedScanner {
        /** Open brackets, innermost first: '[' with the colons seen inside it so far, or '(' / '{'. */
        private final Deque<int[]> open = new ArrayDeque<>();

        PyScanner(String input) {
            super(input);
        }

        @Override
        public Token next() throws ScanException {
            Token t = super.next();
            switch (t.getSymbol()) {
                case LBRACK -> open.push(new int[] {'[', 0});
                case LPAREN -> open.push(new int[] {'(', 0});
                case RBRACK, RPAREN -> open.poll();
                case COLON -> {
                    if (!open.isEmpty() && open.peek()[0] == '[') open.peek()[1]++;
                }
                case EXTENSION -> {
                    if ("{".equals(t.getImage())) open.push(new int[] {'{', 0});
                    else if ("}".equals(t.getImage())) open.poll();
                }
                default -> {}
            }
            return t;
        }

        @Override
        protected Token nextEval() throws ScanException {
            String in = getInput();
            int at = getPosition();
            char c = in.charAt(at);
            Token previous = getToken();
            if (c == '+' && at + 1 < in.length() && Character.isDigit(in.charAt(at + 1)) && endsOperand(previous)) return fixed(Symbol.PLUS);
            if (c == ':' && !open.isEmpty() && open.peek()[0] == '[' && open.peek()[1] == 1) {
                return previous != null && previous.getSymbol() == Symbol.COLON ? STEP_NO_STOP : STEP_AFTER_STOP;
            }
            return super.nextEval();
        }

        private static boolean endsOperand(Token t) {
            if (t == null) return false;
            return switch (t.getSymbol()) {
                case IDENTIFIER, INTEGER, FLOAT, STRING, TRUE, FALSE, NULL, RPAREN, RBRACK -> true;
                case EXTENSION -> "}".equals(t.getImage());
                default -> false;
            };
        }
    }

    /** {@code "  " * depth} and {@code [x] * n} repeat, as in Python; numbers multiply as before. */
    private static final AstBinary.Operator REPEAT_OR_MUL = new AstBinary.Operator() {
        @Override
        public Object eval(Bindings bindings, ELContext context, AstNode left, AstNode right) {
            Object a = left.eval(bindings, context), b = right.eval(bindings, context);
            if (isSequence(a) && isInteger(b)) return repeat(a, ((Number) b).longValue());
            if (isInteger(a) && isSequence(b)) return repeat(b, ((Number) a).longValue());
            return NumberOperations.mul(bindings, a, b);
        }

        private static boolean isSequence(Object v) {
            return v instanceof String || v instanceof SafeString || v instanceof List<?>;
        }

        private static boolean isInteger(Object v) {
            return v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte;
        }

        private static Object repeat(Object seq, long times) {
            if (times > 1 << 20) throw new ELException("repeating a sequence " + times + " times is more than a chat template needs");
            int n = (int) Math.max(0, times);
            if (seq instanceof List<?> l) {
                List<Object> out = new ArrayList<>();
                for (int i = 0; i < n; i++) out.addAll(l);
                return new PyList(out);
            }
            return seq.toString().repeat(n);
        }

        @Override
        public String toString() {
            return "*";
        }
    };

    /** The stop and step of a three-part slice, on their way from the parser to {@link Slice}; never evaluated. */
    private static final class StopAndStep extends AstRightValue {
        final AstNode stop, step;

        StopAndStep(AstNode stop, AstNode step) {
            this.stop = stop;
            this.step = step;
        }

        @Override
        public Object eval(Bindings bindings, ELContext context) {
            throw new ELException("a slice step outside a slice");
        }

        @Override
        public void appendStructure(StringBuilder b, Bindings bindings) {
            if (stop != null) stop.appendStructure(b, bindings);
            b.append(':');
            if (step != null) step.appendStructure(b, bindings);
        }

        @Override
        public int getCardinality() {
            return 2;
        }

        @Override
        public AstNode getChild(int i) {
            return i == 0 ? stop : i == 1 ? step : null;
        }
    }

    /** {@code base[start:stop:step]} with Python's rules (missing parts null). */
    private static final class Slice extends AstRangeBracket {
        private final AstNode step;

        Slice(AstNode base, AstNode start, AstNode stop, AstNode step, boolean lvalue, boolean strict, boolean ignoreReturnType) {
            super(base, start, stop, lvalue, strict, ignoreReturnType);
            this.step = step;
        }

        @Override
        public Object eval(Bindings bindings, ELContext context) {
            Object base = prefix.eval(bindings, context);
            if (base == null) throw new ELException("cannot slice " + prefix + ": it is undefined or none");
            Long start = bound(property, bindings, context), stop = bound(rangeMax, bindings, context), by = bound(step, bindings, context);
            if (base instanceof String || base instanceof SafeString) {
                int[] cps = base.toString().codePoints().toArray();
                StringBuilder b = new StringBuilder();
                for (int i : indices(cps.length, start, stop, by)) b.appendCodePoint(cps[i]);
                return b.toString();
            }
            List<Object> items = new ArrayList<>();
            if (base instanceof Iterable<?> it) it.forEach(items::add);
            else if (base instanceof Object[] arr) items.addAll(Arrays.asList(arr));
            else throw new ELException("cannot slice " + prefix + ": a " + base.getClass().getSimpleName() + " is not a sequence");
            List<Object> out = new ArrayList<>();
            for (int i : indices(items.size(), start, stop, by)) out.add(items.get(i));
            return new PyList(out);
        }

        private static Long bound(AstNode node, Bindings bindings, ELContext context) {
            if (node == null) return null;
            Object v = node.eval(bindings, context);
            if (v == null) return null;
            if (v instanceof Number n && !(v instanceof Double || v instanceof Float)) return n.longValue();
            throw new ELException("slice indices must be integers or none, not " + v);
        }

        /** The indices Python's slice(start, stop, step).indices(length) walks. */
        static int[] indices(int length, Long start, Long stop, Long step) {
            long by = step == null ? 1 : step;
            if (by == 0) throw new ELException("slice step cannot be zero");
            long lower = by < 0 ? -1 : 0, upper = by < 0 ? length - 1 : length;
            long from = start == null ? (by < 0 ? upper : lower) : clamp(start, length, lower, upper);
            long to = stop == null ? (by < 0 ? lower : upper) : clamp(stop, length, lower, upper);
            int n = (int) (by > 0 ? (to > from ? (to - from + by - 1) / by : 0) : (from > to ? (from - to - by - 1) / -by : 0));
            int[] out = new int[n];
            for (int k = 0; k < n; k++) out[k] = (int) (from + k * by);
            return out;
        }

        private static long clamp(long i, int length, long lower, long upper) {
            if (i < 0) i += length;
            return Math.max(lower, Math.min(upper, i));
        }

        @Override
        public String toString() {
            return "[::]";
        }
    }
}
