// The app shell: porter's header and nav, and the page the URL names. `?wall=1` drops the header
// so a page can fill a wall screen.
import { useEffect } from 'react';
import { findPage, pages } from './pages/index.js';
import { Link, useLocation } from './router.js';

export function App() {
  const location = useLocation();
  const page = findPage(location.pathname);
  const wall = location.search.get('wall') === '1';

  useEffect(() => {
    document.title = page ? `${page.title} · porter` : 'porter';
  }, [page]);

  const Component = page?.component;
  return (
    <div className={wall ? 'app wall' : 'app'}>
      {!wall && (
        <header className="top">
          <Link to="/" className="brand">
            porter
          </Link>
          <nav aria-label="pages">
            {pages
              .filter((p) => p.nav)
              .map((p) => (
                <Link key={p.path} to={p.path} aria-current={p === page || page?.path.startsWith(`${p.path}/`) ? 'page' : undefined}>
                  {p.title}
                </Link>
              ))}
          </nav>
        </header>
      )}
      <main>
        {Component ? (
          <Component search={location.search} />
        ) : (
          <section className="page">
            <h1>Not found</h1>
            <p>
              porter has no page at <code>{location.pathname}</code>. <Link to="/">Go to the status page.</Link>
            </p>
          </section>
        )}
      </main>
    </div>
  );
}
