package dev.corvus.langchain4j;

import dev.langchain4j.model.chat.request.ChatRequestParameters;

/** What both chat models hold: the model they run on (owned or shared) and the request mapping. */
abstract sealed class CorvusChatModelBase implements AutoCloseable permits CorvusChatModel, CorvusStreamingChatModel {
    final ChatRequests requests;
    private final boolean ownsModel;

    CorvusChatModelBase(CorvusModelBuilder<?> b) {
        RequestDefaults defaults = RequestDefaults.of(b); // bad options fail before the weights load
        CorvusModelBuilder.Source source = b.source();
        this.requests = new ChatRequests(source.model(), defaults);
        this.ownsModel = source.owned();
    }

    /** The builder's settings as LangChain4j's default parameters, which a request's own override. */
    public ChatRequestParameters defaultRequestParameters() {
        return requests.defaultParameters();
    }

    /** The model this chat model runs on. */
    public CorvusModel model() {
        return requests.model();
    }

    /** Frees the model when this chat model loaded it; a model given to the builder's {@code model} stays open. */
    @Override
    public void close() {
        if (ownsModel) requests.model().close();
    }
}
