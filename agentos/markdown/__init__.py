"""Markdown, the one place: `parse` reads a document's structure (fences, headings, sections,
tables); `escape` puts untrusted text inside the Markdown we post."""
