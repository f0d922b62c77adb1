package io.herald.broker.subscription;

/** A contiguous range of sequences a subscription will never get, with the reason. */
public record Gap(long first, long last, GapReason reason) {
  public Gap {
    if (first < 1 || last < first) {
      throw new IllegalArgumentException("bad gap range [" + first + ", " + last + "]");
    }
  }

  public long count() {
    return last - first + 1;
  }
}
