package newsflow.analysis;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.miscellaneous.ASCIIFoldingFilter;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.TokenFilterFactory;

/**
 * Token filter type "asciifolding" (as in analysis-common, default settings): café -> cafe.
 * Analyzers only: Elasticsearch does not allow stable-plugin filters in normalizers.
 */
@NamedComponent("asciifolding")
public class AsciiFoldingTokenFilterFactory implements TokenFilterFactory {
    @Override
    public TokenStream create(TokenStream input) {
        return new ASCIIFoldingFilter(input);
    }
}
