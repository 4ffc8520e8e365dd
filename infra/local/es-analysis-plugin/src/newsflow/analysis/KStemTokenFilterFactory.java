package newsflow.analysis;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.en.KStemFilter;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.TokenFilterFactory;

/** Token filter type "kstem" (as in analysis-common), for the minimal local Elasticsearch. */
@NamedComponent("kstem")
public class KStemTokenFilterFactory implements TokenFilterFactory {
    @Override
    public TokenStream create(TokenStream input) {
        return new KStemFilter(input);
    }
}
