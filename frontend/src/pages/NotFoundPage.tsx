import { Link } from "react-router";
import { PageTitle } from "../components/Layout";

export function NotFoundPage() {
  return (
    <>
      <PageTitle title="Page not found" />
      <p>
        There is no dashboard page here. Go to the <Link to="/containers">containers</Link> or the <Link to="/hosts">hosts</Link>.
      </p>
    </>
  );
}
