package newsflow.analysis;

import java.io.Reader;
import org.apache.lucene.analysis.charfilter.HTMLStripCharFilter;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.CharFilterFactory;

/** Char filter type "html_strip" (as in analysis-common, default settings). */
@NamedComponent("html_strip")
public class HtmlStripCharFilterFactory implements CharFilterFactory {
    @Override
    public Reader create(Reader reader) {
        return new HTMLStripCharFilter(reader);
    }
}
