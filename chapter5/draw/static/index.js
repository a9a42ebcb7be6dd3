// TensorBoard's "draw" tab: TensorBoard's frame imports this module and calls render(). The frame then opens the
// drawing page itself, which the same routes serve under TensorBoard's plugin prefix (/data/plugin/draw/).
export function render() {
  window.location.replace(new URL("../index.html", import.meta.url).href);
}
