package newsflow.analysis;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.en.PorterStemFilter;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.TokenFilterFactory;

/**
 * Token filter type "porter_stem" for the minimal local Elasticsearch (which lacks the
 * analysis-common module). Same name and same Lucene filter as analysis-common's
 * "porter_stem", so one index template works locally and on the full distribution.
 */
@NamedComponent("porter_stem")
public class PorterStemTokenFilterFactory implements TokenFilterFactory {
    @Override
    public TokenStream create(TokenStream input) {
        return new PorterStemFilter(input);
    }
}
